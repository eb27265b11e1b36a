"""One `infrastructure-monitor` run over 200 flysim apps whose endpoints answer in 200 ms.

`run()` starts flysim with `--generate-apps 200 --endpoint-latency-ms 200` (the scenario of
deployments/scenarios/bench-200.yaml), a Prefect server on SQLite in a temp folder (warmed up
by one throwaway flow run, as a long-running server would be), writes a 200-app inventory to a
temp file, and runs the flow in a fresh child process, as a process worker would. It reports:

* `flow_wall_s`: a scheduled run executed by a fresh process, as a process worker does it (the
  run exists beforehand; the first run of the process, so cold); `warm_flow_wall_s`: then a
  direct call of the flow in the same process (creates its own run), for comparison;
* `ratio_to_floor`: `flow_wall_s` / 0.2 s (one endpoint's latency: the least any run can take);
* `server_run_time_s`: the first run's time in Running as the Prefect server recorded it;
* `task_runs`: task runs the first run created (the SQLite server records ~35 a second);
* `peak_rss_mb`: the child's RSS high-water mark (getrusage ru_maxrss), which includes the
  interpreter and imports; `rss_before_flow_mb` is its RSS just before the first run.

The requirement is `flow_wall_s` < 5 s (`under_5s`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
APPS = 200
LATENCY_MS = 200.0
TOKEN = "flysim-token"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not up after {timeout:g} s")


def _inventory(path: Path, org: str) -> None:
    width = max(3, len(str(APPS)))
    apps = [
        {"name": f"bench-app-{i:0{width}d}", "role": "web", "health_path": "/health"}
        for i in range(1, APPS + 1)
    ]
    path.write_text(yaml.safe_dump({"org": org, "timezone": "UTC", "apps": apps}))


def _child() -> None:
    """Runs in the child process: two monitor runs; prints one JSON line."""
    import asyncio
    import resource

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.flow_engine import run_flow_async
    from prefect.states import Scheduled

    from flows.infrastructure_monitor import infrastructure_monitor

    def rss_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    async def main() -> dict[str, Any]:
        # As a worker runs a scheduled run: the run exists (the scheduler made it), a fresh
        # process executes it.
        async with get_client() as client:
            scheduled = await client.create_flow_run(infrastructure_monitor, state=Scheduled())
        before = rss_mb()
        started = time.perf_counter()
        state = await run_flow_async(
            infrastructure_monitor, flow_run=scheduled, return_type="state"
        )
        wall = time.perf_counter() - started
        # And a direct call in the now warm process (creates its own run).
        started = time.perf_counter()
        warm = await infrastructure_monitor(return_state=True)
        warm_wall = time.perf_counter() - started
        flow_run_id = scheduled.id
        async with get_client() as client:
            flow_run = await client.read_flow_run(flow_run_id)
            task_runs: list[Any] = []
            for _ in range(50):  # the server records task runs from events, shortly after
                task_runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
                )
                if len(task_runs) >= 5:
                    break
                await asyncio.sleep(0.2)
        return {
            "state": state.type.value,
            "message": state.message,
            "warm_state": warm.type.value,
            "flow_wall_s": round(wall, 3),
            "warm_flow_wall_s": round(warm_wall, 3),
            "server_run_time_s": round(flow_run.total_run_time.total_seconds(), 3),
            "task_runs": len(task_runs),
            "task_run_names": sorted(t.name.rsplit("-", 1)[0] for t in task_runs),
            "rss_before_flow_mb": round(before, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }

    print("BENCH " + json.dumps(asyncio.run(main())), flush=True)


def run() -> dict[str, Any]:
    """Measure one monitor run over 200 apps answering in 200 ms (see the module docstring)."""
    procs: list[subprocess.Popen[Any]] = []
    with tempfile.TemporaryDirectory(prefix="hotdash-bench-") as tmp:
        tmpdir = Path(tmp)
        try:
            sim = subprocess.Popen(
                [
                    str(BIN / "python"), "-m", "flysim",
                    "--generate-apps", str(APPS),
                    "--endpoint-latency-ms", str(LATENCY_MS),
                    "--port", "0",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "FLY_API_TOKEN": TOKEN},
            )  # fmt: skip
            procs.append(sim)
            assert sim.stdout is not None
            line = sim.stdout.readline()
            match = re.search(r"listening on (http://\S+)", line)
            if not match:
                raise RuntimeError(f"flysim did not start: {line!r}")
            fly = match.group(1)
            org = httpx.get(f"{fly}/_sim/state", timeout=30).json()["org"]

            port = _free_port()
            api = f"http://127.0.0.1:{port}/api"
            server_env = {
                **os.environ,
                "PREFECT_HOME": str(tmpdir / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_UI_ENABLED": "false",
                "PREFECT_SERVER_API_HOST": "127.0.0.1",
                "PREFECT_SERVER_API_PORT": str(port),
            }
            server_env.pop("PREFECT_API_URL", None)
            server = subprocess.Popen(
                [str(BIN / "prefect"), "server", "start", "--no-ui"],
                cwd=tmpdir,
                env=server_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(server)
            _wait(f"{api}/health", server, timeout=120)

            inventory = tmpdir / "inventory.yaml"
            _inventory(inventory, org)
            child_env = {
                **os.environ,
                "PREFECT_HOME": str(tmpdir / "prefect-client"),
                "PREFECT_API_URL": api,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_LOGGING_LEVEL": "WARNING",
                "FLY_API_HOSTNAME": fly,
                "FLY_PROMETHEUS_URL": f"{fly}/prometheus",
                "FLY_API_BASE_URL": fly,
                "FLY_APP_URL_TEMPLATE": f"{fly}/_apps/{{app}}",
                "FLY_API_TOKEN": TOKEN,
                "FLY_ORG": org,
                "HOTDASH_INVENTORY": str(inventory),
                "HOTDASH_STATE_DIR": str(tmpdir / "state"),
            }
            # A long-running server is warm; a fresh one is still loading: warm it with a
            # throwaway flow in another process, so the child measures the flow, not the boot.
            subprocess.run(
                [str(BIN / "python"), "-m", "benchmarks.monitor_200", "--warm-server"],
                cwd=ROOT,
                env=child_env,
                capture_output=True,
                timeout=300,
                check=True,
            )
            out = subprocess.run(
                [str(BIN / "python"), "-m", "benchmarks.monitor_200", "--child"],
                cwd=ROOT,
                env=child_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")]
            if out.returncode != 0 or not lines:
                raise RuntimeError(
                    f"benchmark child failed ({out.returncode}): {out.stderr[-2000:]}"
                )
            child = json.loads(lines[-1][len("BENCH ") :])
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    floor = LATENCY_MS / 1000
    return {
        "apps": APPS,
        "endpoint_latency_ms": LATENCY_MS,
        "flow_wall_s": child["flow_wall_s"],
        "ratio_to_floor": round(child["flow_wall_s"] / floor, 1),
        "warm_flow_wall_s": child["warm_flow_wall_s"],
        "warm_ratio_to_floor": round(child["warm_flow_wall_s"] / floor, 1),
        "server_run_time_s": child["server_run_time_s"],
        "task_runs": child["task_runs"],
        "task_run_names": child["task_run_names"],
        "peak_rss_mb": child["peak_rss_mb"],
        "rss_before_flow_mb": child["rss_before_flow_mb"],
        "state": child["state"],
        "message": child["message"],
        "under_5s": child["flow_wall_s"] < 5.0,
    }


def _warm_server() -> None:
    import asyncio

    from prefect import flow, task

    @task
    async def noop() -> int:
        return 1

    @flow(name="benchmark-warm-up")
    async def warm_up() -> int:
        return await noop()

    asyncio.run(warm_up())


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child()
    elif "--warm-server" in sys.argv:
        _warm_server()
    else:
        print(json.dumps(run(), indent=2))
