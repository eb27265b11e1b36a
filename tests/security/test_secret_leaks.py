"""Every flow runs real work with a known token (a canary) in FLY_API_TOKEN, and the canary also
where it could leak in: flysim's log lines and endpoint bodies, flyctl's stderr (a deploy whose
error names it), the output of the deploy's test commands, and text a person pastes into a
pause form. Then every place a person or a system reads is searched for it: run logs, artifacts,
flow and task run state messages and events (all through the Prefect API), notifications
received by a real webhook receiver, every file in the state folder (audit log,
notifications.jsonl, incident log, cost snapshots), the exceptions flyctl raises, and the log
records the process printed. Zero hits; and each source is shown to really carry the canary, so
a search that finds nothing means redaction, not a canary that never flowed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prefect import get_client, tags
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterStartTime,
    FlowRunFilterTags,
    LogFilter,
    LogFilterTimestamp,
    TaskRunFilter,
    TaskRunFilterStartTime,
)
from prefect.events import emit_event
from prefect.events.filters import EventFilter, EventIDFilter, EventOccurredFilter
from prefect.logging.handlers import APILogHandler

from hotdash_ops.errors import FlyctlError
from hotdash_ops.fly.flyctl import Flyctl
from hotdash_ops.redaction import REDACTED
from tests.conftest import ROOT, SCENARIO, Flysim, FlysimLauncher
from tests.git_origin import Origin
from tests.paused_forms import waits_at
from tests.security.conftest import FlyctlRecorder, check_argv, quick_inventory
from tests.security.hostile import APP, GOOD_IMAGE
from tests.webhook_receiver import Receiver, alerts_block

pytestmark = pytest.mark.usefixtures("prefect_server")

CANARY = f"fm2_LEAKCANARY{uuid.uuid4().hex}"
LEAKY_IMAGE = "registry.fly.io/hotdash-staging:leaky"
PROD = "hotdash-production"
BACKGROUND = "hotdash-llamaindex-mcp"


def leak_scenario(folder: Path) -> Path:
    """hotdash.yaml with the canary in log lines, endpoint bodies and a deploy error."""
    data = yaml.safe_load(SCENARIO.read_text())
    for name, app in data["apps"].items():
        app.setdefault("logs", []).append(
            {
                "level": "error",
                "message": f"boot: FLY_API_TOKEN={CANARY} (debug dump)",
                "minutes_ago": 20,
            }  # fmt: skip
        )
        endpoints = app.setdefault("endpoints", {})
        endpoints["/api/health"] = {"status": 200, "body": {"status": "ok", "token": CANARY}}
        if name == "hotdash-chatwoot":  # failing: its body lands in the findings
            endpoints["/health"] = {"status": 503, "body": f"auth failed for {CANARY}"}
    data["images"][LEAKY_IMAGE] = {
        "deploy_fails": True,
        "deploy_error": f"release command failed: invalid token {CANARY}",
    }
    data["external"]["supabase"]["endpoints"]["/rest/v1/"]["body"] = {"apikey": CANARY}
    # The database's key is a secret too: the canary is what Supabase's stand-in requires.
    data["external"]["supabase"]["auth"]["value"] = CANARY
    path = folder / "leak-scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class Records(logging.Handler):
    """Every log record the process emits through Prefect's and the root logger, formatted
    with its traceback as a console would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class Leak:
    """What the runs left behind, for the tests to search."""

    def __init__(self, folder: Path, sim: Flysim, recorder: FlyctlRecorder) -> None:
        self.folder = folder
        self.sim = sim
        self.recorder = recorder
        self.state_dir = folder / "state"
        self.receiver = Receiver()
        self.records = Records()
        self.states: dict[str, Any] = {}
        self.started = datetime.now(UTC) - timedelta(seconds=1)
        self.flyctl_errors: list[FlyctlError] = []


@pytest.fixture(scope="module")
def leak_env(
    tmp_path_factory: pytest.TempPathFactory, flysim_launcher: FlysimLauncher
) -> Iterator[Leak]:
    folder = tmp_path_factory.mktemp("leak")
    # The flysim server of the leak scenario accepts only the canary as its token.
    sim = flysim_launcher.get(leak_scenario(folder), token=CANARY)
    recorder = FlyctlRecorder(folder / "flyctl-recorder")
    leak = Leak(folder, sim, recorder)
    origin = Origin(folder)
    origin.commit({"package.json": "{}\n"}, "HotDash: ship the October dashboard")
    inventory = quick_inventory(
        folder,
        origin.path,
        # A test command that prints the canary it found somewhere (the token is withheld
        # from test commands; this one has it in its own argv).
        test_commands=[[sys.executable, "-c", f"print('unit: 3 passed; cfg token {CANARY}')"]],
    )
    data = yaml.safe_load(inventory.read_text())
    data["incident"] = {**data.get("incident", {}), "recovery_timeout_seconds": 5}
    # The production deploy is a canary that never has enough samples: inconclusive, so a
    # person answers the canary-decision form (and pastes the canary there).
    [prod] = [a for a in data["apps"] if a["name"] == PROD]
    prod["deploy"]["canary"]["min_samples"] = 1000
    inventory.write_text(yaml.safe_dump(data))
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in sim.env().items():
                mp.setenv(key, value)
            mp.setenv("FLYCTL", str(recorder.path))
            mp.setenv("SUPABASE_ANON_KEY", CANARY)
            mp.setenv("HOTDASH_INVENTORY", str(inventory))
            mp.setenv("HOTDASH_STATE_DIR", str(leak.state_dir))
            mp.setenv("HOTDASH_PAUSE_POLL_SECONDS", "1")
            mp.setenv("HOTDASH_APPROVAL_POLL_SECONDS", "1")
            mp.setenv("HOTDASH_CANARY_SAMPLE_SECONDS", "0.05")
            for name in ("prefect", ""):
                logging.getLogger(name).addHandler(leak.records)
            try:
                with alerts_block(leak.receiver):
                    asyncio.run(run_every_flow(leak))
                    leak.flyctl_errors = direct_flyctl_errors(recorder)
                asyncio.run(everything_stored())
            finally:
                for name in ("prefect", ""):
                    logging.getLogger(name).removeHandler(leak.records)
        yield leak
    finally:
        leak.receiver.close()


async def everything_stored(timeout: float = 30) -> None:
    """The sweeps read what the server stored, and the last runs' logs and events may not be
    there yet: this process sends logs in batches, and the server stores events in batches
    (its event persister flushes every 5 s). So flush the logs, then send one last event and
    wait until it is stored; the events sent before it, on the same connection, are too."""
    await APILogHandler.aflush()
    last = emit_event(
        event="hotdash.test.leak-sweep-ready",
        resource={"prefect.resource.id": f"hotdash.test.{uuid.uuid4()}"},
    )
    assert last is not None, "events are off in this process"
    deadline = asyncio.get_running_loop().time() + timeout
    async with get_client() as client:
        while asyncio.get_running_loop().time() < deadline:
            page = await client.read_events(
                filter=EventFilter(id=EventIDFilter(id=[last.id])), limit=1
            )
            if page.events:
                return
            await asyncio.sleep(0.5)
    raise AssertionError(f"the server did not store the last event within {timeout:.0f} s")


def direct_flyctl_errors(recorder: FlyctlRecorder) -> list[FlyctlError]:
    """flyctl's failure as the runner raises it (stderr carries the canary)."""
    errors = []
    for image in (LEAKY_IMAGE,):
        try:
            Flyctl(command=str(recorder.path)).deploy(APP, image)
        except FlyctlError as exc:
            errors.append(exc)
    return errors


async def _paused_run(tag: str, key: str | None = None, timeout: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
            )
            for run in runs:
                if await waits_at(client, run, key):
                    return run
        await asyncio.sleep(0.3)
    raise AssertionError(f"no run tagged {tag} paused at {key}")


async def _resume(tag: str, key: str | None, run_input: dict[str, Any]) -> None:
    run = await _paused_run(tag, key)
    async with get_client() as client:
        result = await client.resume_flow_run(run.id, run_input=run_input)
    assert result.status.value == "ACCEPT", result.details


async def run_every_flow(leak: Leak) -> None:
    """Each flow with parameters that make it do real work against flysim."""
    from flows.app_logs import app_logs
    from flows.daily_health_check import daily_health_check
    from flows.deploy_production import approval_deadline, deploy_production
    from flows.deploy_staging import deploy_staging
    from flows.enable_auto_stop import enable_auto_stop
    from flows.incident_response import incident_deadline, incident_response
    from flows.infrastructure_monitor import infrastructure_monitor
    from flows.list_apps import list_apps
    from flows.manage_volumes import manage_volumes
    from flows.manual_health_check import manual_health_check
    from flows.monthly_cost_report import monthly_cost_report
    from flows.parity_check import run_parity_check
    from flows.restart_app import restart_app
    from flows.rollback import rollback
    from flows.scale_app import scale_app
    from flows.silence_alerts import silence_alerts
    from flows.smoke_test import run_smoke_test
    from flows.weekly_cost_review import weekly_cost_review

    s = leak.states
    s["deploy-staging (image)"] = await deploy_staging(
        requested_by="alice",
        image=GOOD_IMAGE,
        untested_image_reason=f"built by hand with token {CANARY}",  # pasted by mistake
        return_state=True,
    )
    s["deploy-staging (fails)"] = await deploy_staging(
        requested_by="alice",
        image=LEAKY_IMAGE,
        untested_image_reason="the leaky image, on purpose",
        return_state=True,
    )
    s["rollback"] = await rollback(
        environment="staging", reason="bad release", requested_by="alice", return_state=True
    )
    # A commit of the repository: its tests print the canary, its build is what ships.
    s["deploy-staging"] = await deploy_staging(requested_by="alice", ref="main", return_state=True)
    s["scale-app"] = await scale_app(app=APP, count=2, return_state=True)

    with tags("leak-incident"):
        incident = asyncio.create_task(
            incident_response(
                app=APP,
                severity="P1",
                summary="5xx on /app",
                reported_by="alice",
                return_state=True,
            )  # fmt: skip
        )
    await _resume(
        "leak-incident",
        None,
        {"action": "restart", "decided_by": "bob", "comment": f"restart; token {CANARY}"},
    )
    s["incident-response"] = await asyncio.wait_for(incident, 120)
    # Its deadline timer, after the decision: reads the run, finds nothing to do.
    s["incident-response-deadline"] = await incident_deadline(
        flow_run_id=s["incident-response"].state_details.flow_run_id,
        at=datetime.now(UTC),
        kind="escalate",
        return_state=True,
    )

    with tags("leak-production"):
        production = asyncio.create_task(
            deploy_production(
                requested_by="alice",
                reason="ship the October dashboard",
                checklist_url="https://example.com/go-live",
                watch_minutes=0.05,
                watch_interval_seconds=1,
                strategy="canary",
                analysis_minutes=12 * 0.05 / 60,
                return_state=True,
            )
        )
    for gate, who in (("manager", "carol"), ("reliability", "dave")):
        await _resume(
            "leak-production",
            f"{gate}-approval",
            {"approver": who, "approve": True, "comment": f"ok; saw {CANARY} in the logs"},
        )
    await _resume(
        "leak-production",
        "canary-decision",
        {"decided_by": "dave", "promote": True, "comment": f"quiet hour; token {CANARY}"},
    )
    s["deploy-production"] = await asyncio.wait_for(production, 120)
    s["deploy-production-approval-deadline"] = await approval_deadline(
        flow_run_id=s["deploy-production"].state_details.flow_run_id,
        deadline=datetime.now(UTC),
        return_state=True,
    )

    s["enable-auto-stop"] = await enable_auto_stop(
        apps=[BACKGROUND], dry_run=False, requested_by="alice", return_state=True
    )
    s["manage-volumes"] = await manage_volumes(
        action="extend",
        app=APP,
        volume_id="vol_staging0old0data1",
        size_gb=2,
        dry_run=False,
        requested_by="alice",
        return_state=True,
    )
    s["weekly-cost-review"] = await weekly_cost_review(return_state=True)
    s["monthly-cost-report"] = await monthly_cost_report(return_state=True)
    s["daily-health-check"] = await daily_health_check(return_state=True)
    # A silence typed with the canary in its reason (a person pasting it): redacted.
    s["silence-alerts"] = await silence_alerts(
        app="*", duration_minutes=5, reason=f"maintenance; token {CANARY}", requested_by="alice",
        return_state=True,
    )  # fmt: skip
    s["infrastructure-monitor"] = await infrastructure_monitor(
        stale_after_minutes=0, return_state=True
    )
    s["restart-app"] = await restart_app(
        app=APP, requested_by="alice", reason="leak drill", verify_seconds=0, return_state=True
    )
    # Every log line of the app (each carries the canary) into its table artifact.
    s["app-logs"] = await app_logs(app=APP, since_minutes=24 * 60, return_state=True)
    s["list-apps"] = await list_apps(return_state=True)
    s["smoke-test"] = await run_smoke_test(environment="production", return_state=True)
    s["parity-check"] = await run_parity_check(return_state=True)
    # Reads every app's error lines (each carries the canary) into its details artifact.
    s["manual-health-check"] = await manual_health_check(return_state=True)
    # The token from the Secret block instead of the environment.
    from prefect.blocks.system import Secret

    os.environ.pop("FLY_API_TOKEN")
    await Secret(value=CANARY).save("fly-api-token", overwrite=True)
    try:
        s["daily-health-check (token from Secret block)"] = await daily_health_check(
            app=APP, return_state=True
        )
    finally:
        async with get_client() as client:
            block = await client.read_block_document_by_name("fly-api-token", "secret")
            await client.delete_block_document(block.id)
        os.environ["FLY_API_TOKEN"] = CANARY


# -- searching ----------------------------------------------------------------------------


def hits(texts: list[str]) -> list[str]:
    """The texts that contain the canary (shortened around it)."""
    found = []
    for text in texts:
        i = text.find(CANARY)
        if i >= 0:
            found.append(text[max(0, i - 200) : i + 60])
    return found


async def _paged(fetch: Any) -> AsyncIterator[Any]:
    offset = 0
    while True:
        page = await fetch(offset)
        for item in page:
            yield item
        if len(page) < 200:
            return
        offset += 200


async def flow_runs(leak: Leak) -> list[Any]:
    async with get_client() as client:
        return [
            r
            async for r in _paged(
                lambda o: client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        start_time=FlowRunFilterStartTime(after_=leak.started)
                    ),
                    limit=200,
                    offset=o,
                )
            )
        ]


def test_every_flow_did_real_work(leak_env: Leak) -> None:
    from tests.security.hostile import all_flows

    states = leak_env.states
    assert {name.split(" (")[0] for name in states} == set(all_flows())  # every flow ran
    for name, state in states.items():
        if name in ("deploy-staging (fails)", "daily-health-check", "manual-health-check"):
            assert state.is_failed(), (name, state.message)
        elif name not in ("infrastructure-monitor", "daily-health-check (token from Secret block)"):
            assert state.is_completed(), (name, state.message)
    kinds = {m["kind"] for m in leak_env.sim.state()["mutations"]}
    assert {
        "deploy",
        "scale_count",
        "machine_restart",
        "machine_update",
        "volume_extend",
    } <= kinds, kinds
    # flyctl's raw stderr had the canary (the failing deploy said it): the source was live.
    assert CANARY in leak_env.recorder.raw_stderr()
    assert len(leak_env.recorder.calls()) > 10
    # Every flyctl call of every flow: an argv list, user values whole, the token never in it
    # (it travels in the child's environment only). The volume extend is a Machines API call.
    check_argv(
        leak_env.recorder.calls(),
        [APP, PROD, GOOD_IMAGE, LEAKY_IMAGE, "2"],
        [CANARY, "LEAKCANARY"],
    )


def test_no_canary_in_run_logs(leak_env: Leak) -> None:
    async def read() -> list[str]:
        async with get_client() as client:
            return [
                log.message
                async for log in _paged(
                    lambda o: client.read_logs(
                        log_filter=LogFilter(timestamp=LogFilterTimestamp(after_=leak_env.started)),
                        limit=200,
                        offset=o,
                    )
                )
            ]

    messages = asyncio.run(read())
    assert len(messages) > 50
    assert any(REDACTED in m for m in messages)  # redaction happened on this path
    assert hits(messages) == []


def test_no_canary_in_artifacts(leak_env: Leak) -> None:
    async def read() -> list[str]:
        runs = await flow_runs(leak_env)
        async with get_client() as client:
            found = [
                a
                async for a in _paged(
                    lambda o: client.read_artifacts(
                        artifact_filter=ArtifactFilter(
                            flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in runs])
                        ),
                        limit=200,
                        offset=o,
                    )
                )
            ]
        return [f"{a.key} {a.description} {json.dumps(a.data, default=str)}" for a in found]

    texts = asyncio.run(read())
    assert len(texts) > 15
    assert any(REDACTED in t for t in texts)
    assert hits(texts) == []


def test_no_canary_in_state_messages_or_events(leak_env: Leak) -> None:
    async def read() -> list[str]:
        texts = [f"{r.name} {r.state.name if r.state else ''} {r.state.message if r.state else ''}"
                 for r in await flow_runs(leak_env)]  # fmt: skip
        async with get_client() as client:
            texts += [
                f"{t.name} {t.state.message if t.state else ''}"
                async for t in _paged(
                    lambda o: client.read_task_runs(
                        task_run_filter=TaskRunFilter(
                            start_time=TaskRunFilterStartTime(after_=leak_env.started)
                        ),
                        limit=200,
                        offset=o,
                    )
                )
            ]
            page = await client.read_events(
                filter=EventFilter(occurred=EventOccurredFilter(since=leak_env.started)),
                limit=50,
            )
            events = list(page.events)
            while page.next_page:
                page = await client.read_events_page(str(page.next_page))
                events += page.events
        return texts + [e.model_dump_json() for e in events]

    texts = asyncio.run(read())
    assert len(texts) > 100
    assert any("hotdash.audit." in t for t in texts)  # the audit events are among them
    assert hits(texts) == []


def test_no_canary_in_notifications_received(leak_env: Leak) -> None:
    bodies = [b.decode(errors="replace") for b in leak_env.receiver.bodies]
    assert len(bodies) >= 8
    assert any(REDACTED in b for b in bodies)
    assert hits(bodies) == []


def test_no_canary_in_the_state_folder(leak_env: Leak) -> None:
    files = [p for p in leak_env.state_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"audit.jsonl", "notifications.jsonl"} <= names, names
    texts = [p.read_bytes().decode(errors="replace") for p in files]
    audit = (leak_env.state_dir / "audit.jsonl").read_text()
    assert audit.count("\n") >= 10 and REDACTED in audit  # the pasted comment, redacted
    assert hits(texts) == []


def test_no_canary_in_flyctl_errors_or_printed_logs(leak_env: Leak) -> None:
    [error] = leak_env.flyctl_errors
    shown = [
        str(error),
        repr(error),
        error.stderr,
        " ".join(error.argv),
        "".join(traceback.format_exception(error)),
    ]
    assert "invalid token" in error.stderr and REDACTED in error.stderr
    assert hits(shown) == []
    assert len(leak_env.records.lines) > 100
    assert hits(leak_env.records.lines) == []


def test_the_flysim_sources_really_carry_the_canary(leak_env: Leak) -> None:
    sim = leak_env.sim
    logs = httpx.get(
        f"{sim.url}/api/v1/apps/{APP}/logs", headers={"Authorization": f"FlyV1 {CANARY}"}
    ).text
    body = httpx.get(f"{sim.url}/_apps/hotdash-chatwoot/health").text
    assert CANARY in logs and CANARY in body
    assert ROOT.exists()
