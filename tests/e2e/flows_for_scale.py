"""Small flows the scale-out test deploys from this checkout (tests/e2e/scale_out.prefect.yaml)
to the `hotdash` process pool, next to the real deployments of prefect.yaml.

* `scale-out-probe` appends one line per execution (its flow-run id, its process and the
  worker process that started it) to a file, so the test can count executions.
* `hold-app-lock` is the locked part of a deploy: under `tasks.app_lock.app_lock(app)` it
  deploys an image with `tasks.fly_deploys.deploy_image` (audited deploy.started /
  deploy.completed), then holds the lock `verify_seconds` longer, standing in for the smoke
  test and the watch, and audits `deploy.verified` before releasing it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import socket
import time

from prefect import flow
from prefect.runtime import flow_run

from tasks.app_lock import app_lock
from tasks.audit import audit
from tasks.fly_deploys import deploy_image


@flow(name="scale-out-probe")
async def record_run(out_file: str, seconds: float = 0.5) -> str:
    """Append {run_id, pid, ppid, host, at} to `out_file`, after `seconds` of work."""
    await asyncio.sleep(seconds)
    line = json.dumps(
        {
            "run_id": str(flow_run.get_id()),
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "host": socket.gethostname(),
            "at": time.time(),
        }
    )
    with open(out_file, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # two workers' runs append to one file
        fh.write(line + "\n")
    return line


@flow(name="hold-app-lock")
async def hold_app_lock(app: str, image: str, actor: str, verify_seconds: float = 3.0) -> int:
    """Deploy `image` to `app` under the app's lock, and keep the lock `verify_seconds`."""
    async with app_lock(app, wait_seconds=120):
        release = deploy_image(app, image, actor=actor, reason="scale-out lock test")
        await asyncio.sleep(verify_seconds)
        audit(
            actor=actor,
            action="deploy.verified",
            target=app,
            detail={"version": release.version},
            reason="scale-out lock test",
        )
    return release.version
