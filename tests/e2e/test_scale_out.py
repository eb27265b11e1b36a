"""Scale-out, as the README's steps set it up: PostgreSQL (Debian's package), the Prefect server
on it from deployments/scale-out/prefect-server.service, the work pool and deployments from
register.sh, and two workers from prefect-worker@.service polling the one process pool.

Proves: flow runs (twice what one worker holds) each execute exactly once across the two
workers; deploys of one app never overlap while deploys of different apps do (the per-app
global concurrency limit of tasks/app_lock.py, read off the audit log's timestamps); and two
real `deploy-production` runs submitted at once, both approved at both gates through the API,
deploy one after the other. Then the README's upgrade (drain the pool, restart the workers, resume) and its
pg_dump backup.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from prefect.client.schemas.objects import StateType

from hotdash_ops.audit import AuditLog, AuditRecord
from tests.conftest import ROOT, Flysim, free_port
from tests.e2e.postgres import PostgresCluster, start_cluster
from tests.e2e.prefect_api import (
    is_terminal,
    run_deployment,
    stack_client,
    wait_until,
    waiting_at,
)
from tests.e2e.systemd_units import (
    SCALE_OUT,
    Service,
    load_unit,
    read_env_file,
    render_env_file,
)

pytestmark = pytest.mark.e2e

BIN = ROOT / ".venv/bin"
PROBE = "scale-out-probe/scale-out-probe"
HOLD = "hold-app-lock/hold-app-lock"
DEPLOY_PRODUCTION = "deploy-production/deploy-production"
PROD = "hotdash-production"
CHECKLIST = "https://example.com/go-live/scale-out"
WORKER_LIMIT = 2  # flow runs one worker holds at once (`prefect worker start --limit`); the
# shipped worker.env.example says 4. Two is enough to prove the limit, and every probe run is a
# process of about 5 CPU-seconds.


@dataclass
class ScaleOut:
    api_url: str
    auth: str
    sim: Flysim
    state_dir: Path
    worker_env: dict[str, str]
    pg: PostgresCluster
    server: Service
    workers: list[Service]
    logs: Path

    def client(self):
        return stack_client(self.api_url, self.auth)

    def check_services(self) -> None:
        for service in [self.server, *self.workers]:
            if not service.running():
                raise RuntimeError(f"{service.unit.name} exited:\n{service.tail()}")

    def audit(self) -> list[AuditRecord]:
        return AuditLog(self.state_dir / "audit.jsonl").records()


def wait_healthy(url: str, auth: str, server: Service, timeout: float = 150) -> None:
    user, _, password = auth.partition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running():
            raise RuntimeError(f"Prefect server exited:\n{server.tail()}")
        try:
            if httpx.get(url, auth=(user, password), timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"Prefect server not healthy within {timeout:.0f} s:\n{server.tail()}")


def run_cli(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def scale_out(
    tmp_path_factory: pytest.TempPathFactory, flysim_server: Flysim
) -> Iterator[ScaleOut]:
    base = tmp_path_factory.mktemp("scale-out")
    etc, state, logs = base / "etc", base / "state", base / "logs"
    # README step 1: PostgreSQL, a role and a database `prefect`. (Step 2, user and
    # checkout: this checkout.)
    pg: PostgresCluster = start_cluster(free_port())
    sim = flysim_server
    sim.reset()
    services: list[Service] = []  # server first, then the workers (replaced on restart)
    try:
        port = free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        auth = f"hotdash:test-{os.urandom(8).hex()}"
        # README step 3: server.env on the server host ...
        render_env_file(
            SCALE_OUT / "server.env.example",
            etc / "server.env",
            {
                "PREFECT_SERVER_DATABASE_CONNECTION_URL": pg.url,
                "PREFECT_SERVER_API_HOST": "127.0.0.1",
                "PREFECT_SERVER_API_PORT": str(port),
                "PREFECT_UI_API_URL": api_url,
                "PREFECT_SERVER_API_AUTH_STRING": auth,
                "PREFECT_HOME": str(state / "prefect-server"),
            },
        )
        # ... and worker.env on every worker host (here: flysim instead of Fly.io).
        worker_env = render_env_file(
            SCALE_OUT / "worker.env.example",
            etc / "worker.env",
            {
                "PREFECT_API_URL": api_url,
                "PREFECT_API_AUTH_STRING": auth,
                "PREFECT_HOME": str(state / "prefect"),
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "HOTDASH_WORKER_LIMIT": str(WORKER_LIMIT),
                "HOTDASH_HOME": str(ROOT),
                "HOTDASH_STATE_DIR": str(state),
                "PREFECT_LOCAL_STORAGE_PATH": str(state / "prefect-results"),
                "HOTDASH_INVENTORY": str(ROOT / "deployments/inventory.yaml"),
                # Not the shipped inventory's GitHub repository: none (offline, at once).
                "HOTDASH_REPOSITORY": str(state / "no-hotdash-repository.git"),
                "FLY_API_TOKEN": sim.token,
                "FLY_ORG": "personal",
                "FLYCTL": str(BIN / "flysim-fly"),
            },
        )
        with open(etc / "worker.env", "a") as fh:  # flysim.service's settings
            for key, value in sim.env().items():
                if key not in worker_env:
                    fh.write(f"{key}={value}\n")
        worker_env = read_env_file(etc / "worker.env")
        cli_env = {"PATH": os.environ["PATH"], "HOME": str(Path.home()), **worker_env}

        # README step 4: the server under systemd.
        # (Test only: no cron tick of prefect.yaml may start a run among the test's own.)
        server = Service.start(
            load_unit("prefect-server.service", etc_dir=etc),
            logs,
            extra_env={"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
        )
        services.append(server)
        wait_healthy(f"{api_url}/health", auth, server)
        assert pg.psql("select count(*) from flow_run") == "0"  # it runs on PostgreSQL

        # README step 5: work pool and deployments (register.sh), plus this test's flows.
        run_cli([str(SCALE_OUT / "register.sh"), str(etc / "worker.env")], cli_env)
        run_cli(
            [
                str(BIN / "prefect"),
                "--no-prompt",
                "deploy",
                "--all",
                "--prefect-file",
                "tests/e2e/scale_out.prefect.yaml",
            ],
            cli_env,
        )
        with stack_client(api_url, auth) as client:
            names = {f"{d.name}" for d in client.read_deployments()}
            assert client.read_automations_by_name("infrastructure-monitor-silent")
        if "deploy-production" not in names:  # until prefect.yaml lists it
            run_cli(
                [
                    str(BIN / "prefect"),
                    "--no-prompt",
                    "deploy",
                    "flows/deploy_production.py:deploy_production",
                    "--name",
                    "deploy-production",
                    "--pool",
                    "hotdash",
                ],
                cli_env,
            )

        # README step 6: two workers on the one pool (here on one host; any host works).
        for instance in ("1", "2"):
            unit = load_unit("prefect-worker@.service", etc_dir=etc, instance=instance)
            services.append(Service.start(unit, logs))
        workers = services[1:]
        yield ScaleOut(api_url, auth, sim, state, worker_env, pg, server, workers, logs)
        services[1:] = workers
    finally:
        for service in reversed(services):
            service.stop(timeout=10, everything=True)
        sim.reset()
        pg.stop()


def test_runs_on_two_workers_each_execute_exactly_once(scale_out: ScaleOut, tmp_path: Path) -> None:
    # Twice what one worker may hold (`--limit`): at least one run must go to the other worker,
    # and every run is raced for by two pollers.
    count = 2 * WORKER_LIMIT
    out = tmp_path / "executions.jsonl"
    started = time.monotonic()
    with scale_out.client() as client:
        runs = [
            run_deployment(client, PROBE, {"out_file": str(out), "seconds": 1.0})
            for _ in range(count)
        ]
        ids = [r.id for r in runs]
        done = wait_until(
            client, ids, is_terminal, timeout=150, what="probe runs", check=scale_out.check_services
        )
        assert [r.state.type for r in done if r.state] == [StateType.COMPLETED] * count
        # Orchestration side: each run entered Running once.
        for run_id in ids:
            states = client.read_flow_run_states(run_id)
            assert [s.type for s in states].count(StateType.RUNNING) == 1, states
    elapsed = time.monotonic() - started

    executions = [json.loads(line) for line in out.read_text().splitlines()]
    counts = Counter(UUID(e["run_id"]) for e in executions)
    assert counts == Counter({run_id: 1 for run_id in ids})
    # Both workers took runs: each flow-run process is a child of the worker that started it.
    worker_pids = {w.pid for w in scale_out.workers}
    by_worker = Counter(e["ppid"] for e in executions)
    assert set(by_worker) == worker_pids, (by_worker, worker_pids)
    print(f"{count} runs on 2 workers in {elapsed:.1f} s: {dict(by_worker)}")


def spans(records: list[AuditRecord], actor: str, end: str) -> tuple[datetime, datetime]:
    """When `actor`'s deploy began (deploy.started) and ended (`end`), from the audit log."""
    mine = {r.action: datetime.fromisoformat(r.ts) for r in records if r.actor == actor}
    assert "deploy.started" in mine and end in mine, (actor, sorted(mine))
    return mine["deploy.started"], mine[end]


def overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_deploys_of_one_app_never_overlap_deploys_of_different_apps_do(
    scale_out: ScaleOut,
) -> None:
    image = "registry.fly.io/{app}:deployment-01JSCALEOUT0LOCK0TEST00{n}"
    plan = [
        (PROD, "lock-prod-1"),
        (PROD, "lock-prod-2"),
        ("hotdash-chatwoot", "lock-chatwoot"),
    ]
    with scale_out.client() as client:
        runs = [
            run_deployment(
                client,
                HOLD,
                {
                    "app": app,
                    "image": image.format(app=app, n=i),
                    "actor": actor,
                    "verify_seconds": 5.0,
                },
            )
            for i, (app, actor) in enumerate(plan)
        ]
        done = wait_until(
            client,
            [r.id for r in runs],
            is_terminal,
            timeout=120,
            what="hold-app-lock runs",
            check=scale_out.check_services,
        )
    assert [r.state.type for r in done if r.state] == [StateType.COMPLETED] * 3, [
        (r.name, r.state.message if r.state else None) for r in done
    ]
    records = scale_out.audit()
    prod_1, prod_2, chatwoot = (spans(records, actor, "deploy.verified") for _, actor in plan)
    # One app: the second deploy began only after the first released the app's lock.
    assert not overlap(prod_1, prod_2), (prod_1, prod_2)
    # Different apps: chatwoot's deploy ran while production's lock was held.
    assert overlap(chatwoot, prod_1) or overlap(chatwoot, prod_2), (chatwoot, prod_1, prod_2)
    # Three deploys reached flysim, one each; the audit log's hash chain is intact although
    # two workers' flow runs appended to it at once.
    deploys = [m for m in scale_out.sim.state()["mutations"] if m["kind"] == "deploy"]
    assert sorted(m["detail"]["image"] for m in deploys) == sorted(
        image.format(app=app, n=i) for i, (app, _) in enumerate(plan)
    )
    assert AuditLog(scale_out.state_dir / "audit.jsonl").verify().ok


def test_two_production_deploys_submitted_at_once_deploy_one_after_the_other(
    scale_out: ScaleOut,
) -> None:
    params = {
        "reason": "Scale-out test: two deploys at once",
        "checklist_url": CHECKLIST,
        "untested_image_reason": "end-to-end test of the scale-out stack",
        "watch_minutes": 0.05,
        "watch_interval_seconds": 1,
        "strategy": "rolling",  # not what this test is about (the canary's: test_deploy_production.py)
        "approval_timeout_hours": 1,
    }
    staging_image = scale_out.sim.state()["apps"]["hotdash-staging"]["current_image"]
    with scale_out.client() as client:
        runs = [
            run_deployment(client, DEPLOY_PRODUCTION, {**params, "requested_by": who})
            for who in ("Alice", "Bob")
        ]
        ids = [r.id for r in runs]
        for key, approver in (("manager-approval", "Carol"), ("reliability-approval", "Dave")):
            wait_until(
                client,
                ids,
                waiting_at(client, key),
                timeout=120,
                what=f"runs at {key}",
                check=scale_out.check_services,
            )
            for run_id in ids:  # both answered at once: both then race for the app's lock
                client.resume_flow_run(
                    run_id, run_input={"approver": approver, "approve": True, "comment": "ok"}
                )
        done = wait_until(
            client, ids, is_terminal, timeout=120, what="deploys", check=scale_out.check_services
        )
    assert [r.state.type for r in done if r.state] == [StateType.COMPLETED] * 2, [
        (r.name, r.state.message if r.state else None) for r in done
    ]
    records = scale_out.audit()
    # Each run was executed three times (resumed twice, by either worker) and replayed its
    # first steps from the shared result storage: one approval request each.
    requests = Counter(r.actor for r in records if r.action == "approval.requested")
    assert requests == Counter({"Alice": 1, "Bob": 1}), requests
    alice, bob = (
        spans(records, "Alice", "deploy.completed"),
        spans(records, "Bob", "deploy.completed"),
    )
    first, second = sorted([alice, bob])
    assert not overlap(first, second), (alice, bob)
    # The second deploy waited for the first one's smoke test and watch (>= 3 s) to finish.
    assert (second[0] - first[1]).total_seconds() >= 2.5, (first, second)
    # Both deployed staging's image (pinned by digest); production runs it now.
    promoted = {
        r.detail["image"]
        for r in records
        if r.action == "deploy.completed" and r.target == PROD and r.actor in ("Alice", "Bob")
    }
    assert len(promoted) == 1 and staging_image.split(":")[0] in next(iter(promoted)), promoted
    assert scale_out.sim.state()["apps"][PROD]["current_image"] == next(iter(promoted))


def test_upgrade_drains_the_pool_restarts_the_workers_and_resumes(
    scale_out: ScaleOut, tmp_path: Path
) -> None:
    """The README's "Upgrading" steps: pause the pool, let the running run finish while new
    ones wait, restart the workers (systemctl restart), resume the pool: each run runs once."""
    out = tmp_path / "executions.jsonl"
    cli_env = {"PATH": os.environ["PATH"], "HOME": str(Path.home()), **scale_out.worker_env}
    prefect = [str(BIN / "prefect"), "--no-prompt"]
    with scale_out.client() as client:
        running = run_deployment(client, PROBE, {"out_file": str(out), "seconds": 4.0})
        wait_until(
            client,
            [running.id],
            lambda r: r.state_type == StateType.RUNNING,
            timeout=90,
            what="run before the upgrade",
            check=scale_out.check_services,
        )
        run_cli([*prefect, "work-pool", "pause", "hotdash"], cli_env)
        waiting = run_deployment(client, PROBE, {"out_file": str(out), "seconds": 0.0})
        wait_until(client, [running.id], is_terminal, timeout=90, what="the running run")
        time.sleep(3)  # more than a worker poll (1 s): nobody takes the new run
        assert client.read_flow_run(waiting.id).state_type == StateType.SCHEDULED

        for index, worker in enumerate(scale_out.workers):  # systemctl restart prefect-worker@N
            worker.stop(timeout=10)
            scale_out.workers[index] = Service.start(worker.unit, scale_out.logs)
        run_cli([*prefect, "work-pool", "resume", "hotdash"], cli_env)

        done = wait_until(
            client,
            [running.id, waiting.id],
            is_terminal,
            timeout=90,
            what="runs after the upgrade",
            check=scale_out.check_services,
        )
    assert [r.state_type for r in done] == [StateType.COMPLETED] * 2
    executions = [json.loads(line)["run_id"] for line in out.read_text().splitlines()]
    assert executions == [str(running.id), str(waiting.id)]


def test_pg_dump_backup_restores_every_run(scale_out: ScaleOut, tmp_path: Path) -> None:
    """The README's backup of the PostgreSQL database, taken while everything runs, restores
    into an empty database with the same runs."""
    pg = scale_out.pg
    dump = tmp_path / "prefect.dump"
    subprocess.run(
        [str(pg.bin / "pg_dump"), "--format=custom", f"--file={dump}", pg.libpq_url()],
        check=True,
        capture_output=True,
    )
    pg.psql("create database prefect_restored owner prefect", database="postgres")
    subprocess.run(
        [str(pg.bin / "pg_restore"), "--no-owner", "-d", pg.libpq_url("prefect_restored"), dump],
        check=True,
        capture_output=True,
    )
    count = "select count(*) from flow_run"
    live, restored = pg.psql(count), pg.psql(count, database="prefect_restored")
    assert int(restored) == int(live) > 2 * WORKER_LIMIT, (live, restored)  # probes + deploys
