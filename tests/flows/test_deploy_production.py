"""deploy-production against flysim (real HTTP, flysim-fly as a real subprocess) and a real
Prefect server; approvers answer through the API (`resume_flow_run` with run_input) as the
UI's resume form does. Run directly (no deployment), the gates are blocking pauses; the
suspend path is tested end to end in tests/e2e/test_approval_survives_restart.py."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect import get_client
from prefect.flow_runs import aresume_flow_run
from prefect.input.actions import aread_flow_run_input

from flows.deploy_production import deploy_production
from flows.deploy_staging import deploy_staging
from hotdash_ops.audit import AuditLog
from hotdash_ops.deploys.window import WEEKDAYS
from tests.artifacts import artifact_versions, artifacts_of
from tests.conftest import ROOT
from tests.deploy_production_run import CHECKLIST, UNTESTED, DeployProductionRun
from tests.git_origin import Origin, git
from tests.run_logs import run_log_text
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("prefect_server")

PROD = "hotdash-production"
STAGING = "hotdash-staging"
PROD_V4 = "registry.fly.io/hotdash-production:deployment-01J9SVKA0027H6P3AMKDQG6STT"
STAGING_V3 = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"


def write_inventory(path: Path, **deploy: Any) -> Path:
    """The shipped inventory with `deploy` settings changed; no repository unless given (the
    shipped one is on GitHub)."""
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    approvers = deploy.pop("approvers", None)
    if approvers is not None:
        data["approvers"] = approvers
    data["deploy"] = {**data["deploy"], "repository_env": None, **deploy}
    if "repository" not in deploy:
        del data["deploy"]["repository"]
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def env(flysim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOTDASH_INVENTORY", str(write_inventory(tmp_path / "inventory.yaml")))
    monkeypatch.setenv("HOTDASH_APPROVAL_POLL_SECONDS", "1")
    return flysim


def production(flysim) -> dict[str, Any]:
    return flysim.state()["apps"][PROD]


def prod_deploys(flysim) -> list[dict[str, Any]]:
    return [m for m in flysim.state()["mutations"] if m["app"] == PROD and m["kind"] == "deploy"]


def audit_records(tmp_path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    return [(r.action, r.actor, r.detail) for r in log.records()]


def notifications(tmp_path: Path) -> list[str]:
    path = tmp_path / "state" / "notifications.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["subject"] for line in path.read_text().splitlines()]


def notification_bodies(tmp_path: Path, subject_part: str) -> list[str]:
    path = tmp_path / "state" / "notifications.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r["body"] for r in rows if subject_part in r["subject"]]


async def approval_forms(state: Any) -> list[str]:
    """The approval forms the run showed (artifact `deploy-production-approval`, newest
    first), without the version that closes it when the deploy is over."""
    versions = await artifact_versions(state, "deploy-production-approval")
    return [str(a.data) for a in versions if "**Outcome:" not in str(a.data)]


def staging_digest_ref(flysim) -> str:
    """What staging runs, as `registry/repository@sha256:...` (what must be promoted)."""
    [machine] = flysim.state()["apps"][STAGING]["machines"]
    assert machine["config"]["image"] == STAGING_V3
    ref = machine["image_ref"]
    return f"{ref['registry']}/{ref['repository']}@{ref['digest']}"


async def test_two_valid_approvals_deploy_stagings_image_after_refusing_the_requester_and_the_same_person_twice(
    env, tmp_path: Path
) -> None:
    run = DeployProductionRun()
    await run.answer("manager-approval", "  alice ", True, "my own deploy")  # the requester
    # The refusal is in the run's state, where the UI's header shows it, not only in the log.
    again = await run.paused_at("manager-approval-2")
    assert again.state is not None and again.state.name == "Refused: ask again"
    assert again.state.message == (
        "manager-approval: alice requested this deploy and may not approve it; "
        "another person must decide."
    )
    asked = await aread_flow_run_input("paused-manager-approval-2-description", again.id)
    assert asked.splitlines()[2].startswith(
        "**Your answer was refused: manager-approval: alice requested this deploy"
    )
    await run.answer("manager-approval-2", "Bob", True, "checklist looks complete")
    await run.answer("reliability-approval", "BOB", True)  # the manager again
    await run.answer("reliability-approval-2", "Carol", True, "error budget fine")
    state = await run.state()

    assert state.is_completed(), state.message
    promoted = staging_digest_ref(env)
    assert production(env)["current_image"] == promoted
    assert [d["detail"]["image"] for d in prod_deploys(env)] == [promoted]
    tag = f"v{datetime.now(UTC).astimezone(ZoneInfo('America/Los_Angeles')):%Y.%m.%d}a"
    assert state.message.startswith(f"deployed {tag} to {PROD}")

    records = audit_records(tmp_path)
    decisions = [
        (a, who, d["key"]) for a, who, d in records if a.startswith("approval.") and "key" in d
    ]
    assert decisions == [
        ("approval.refused", "alice", "manager-approval"),
        ("approval.approved", "Bob", "manager-approval-2"),
        ("approval.refused", "BOB", "reliability-approval"),
        ("approval.approved", "Carol", "reliability-approval-2"),
    ]
    assert records[0][:2] == ("approval.requested", "Alice")
    assert ("release.tagged", "Alice") in [(a, who) for a, who, _ in records]
    assert [a for a, *_ in records if a.startswith("deploy.")] == [
        "deploy.started",
        "deploy.completed",
    ]

    sent = notifications(tmp_path)
    assert sent[0] == f"deploy-production: awaiting manager approval ({tag})"
    assert "deploy-production: awaiting manager approval again (manager-approval-2)" in sent
    assert f"deploy-production: awaiting reliability approval ({tag})" in sent
    assert "deploy-production: awaiting reliability approval again (reliability-approval-2)" in sent
    again = notification_bodies(tmp_path, "awaiting manager approval again")
    assert again[0].startswith("manager-approval: alice requested this deploy and may not")
    assert f"deploy-production of {PROD} approved" in sent
    assert sent[-1] == f"deploy-production: {tag} deployed to {PROD}"

    artifacts = await artifacts_of(state)
    # The approval artifact ends with how the deploy ended, not "awaiting ... approval".
    closed = str(artifacts["deploy-production-approval"].data)
    assert closed.startswith(f"## Production deploy of `{PROD}`: approved by Bob and Carol")
    assert f"**Outcome: deployed {tag} to {PROD}" in closed
    assert "- manager-approval: alice requested this deploy" in closed
    form = (await approval_forms(state))[-1]  # the first gate's (newest first)
    name, digest = promoted.split("@")
    for shown in (name, f"@{digest}", tag, CHECKLIST, "Ship the October dashboard", "passed"):
        assert shown in form
    assert "- **parity**" in form and "- **requested by** Alice" in form
    summary = str(artifacts["deploy-production"].data)
    assert "approved by" in summary and "Bob and Carol" in summary
    assert artifacts["deploy-production-progress"].type == "progress"
    assert artifacts["deploy-production-progress"].data == 100


async def test_approve_false_rejects_with_nothing_deployed_and_only_listed_approvers_count(
    env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    inv = write_inventory(
        tmp_path / "listed.yaml", approvers={"manager": ["Bob Smith"], "reliability": []}
    )
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))
    run = DeployProductionRun()
    paused = await run.paused_at("manager-approval")
    # What the UI's resume form is built from: the contract's three fields, and the request.
    schema = await aread_flow_run_input("paused-manager-approval-schema", paused.id)
    assert schema["properties"].keys() == {"approver", "approve", "comment"}
    assert [schema["properties"][f]["type"] for f in ("approver", "approve", "comment")] == [
        "string",
        "boolean",
        "string",
    ]
    shown = await aread_flow_run_input("paused-manager-approval-description", paused.id)
    assert staging_digest_ref(env) in shown and CHECKLIST in shown
    assert "- **who may approve** Bob Smith" in shown
    # An empty list is said plainly, in the run log (and the reliability form).
    logs = await run_log_text(paused.id, expect=["reliability gate: any name counts"])
    assert (
        "reliability gate: any name counts: the inventory lists no reliability approvers "
        "(approvers.reliability is empty), so anyone but the requester can approve"
    ) in logs
    # A name with a text-direction override: the server refuses it against the form's schema
    # and the run keeps waiting at the same key.
    with pytest.raises(RuntimeError, match="approver"):
        await aresume_flow_run(
            paused.id, run_input={"approver": "Bob\u202e", "approve": True, "comment": ""}
        )
    await run.answer("manager-approval", "   ", True)  # blank: the flow's own rule refuses it
    await run.answer("manager-approval-2", "Mallory", True)
    # A forgotten switch (approve off, no reason) does not reject: it is asked again.
    await run.answer("manager-approval-3", "Bob Smith", False)
    again = await run.paused_at("manager-approval-4")
    assert again.state is not None and again.state.name == "Refused: ask again"
    assert again.state.message == (
        "manager-approval-3: Bob Smith rejected without a reason; to reject, say why in "
        "`comment`; to approve, switch `approve` on."
    )
    await run.answer("manager-approval-4", "bob   SMITH", False, "checklist item 4 is open")
    state = await run.state()

    assert state.is_failed()
    assert state.message == (
        "rejected by bob SMITH at manager-approval-4 (checklist item 4 is open)."
    )
    assert prod_deploys(env) == []
    assert production(env)["current_image"] == PROD_V4
    actions = [a for a, *_ in audit_records(tmp_path)]
    assert actions == [
        "approval.requested", "approval.refused", "approval.refused", "approval.refused",
        "approval.rejected",
    ]  # fmt: skip
    refused = [(who, d) for a, who, d in audit_records(tmp_path) if a == "approval.refused"]
    assert [(who, d["key"]) for who, d in refused] == [
        ("(no valid name)", "manager-approval"), ("Mallory", "manager-approval-2"),
        ("Bob Smith", "manager-approval-3"),
    ]  # fmt: skip
    blank = notification_bodies(tmp_path, "awaiting manager approval again")
    assert blank[0].startswith("manager-approval: approver: must not be empty; answer again.")
    assert f"deploy-production of {PROD} rejected" in receiver.subjects()
    [rejected] = [m for m in receiver.messages if m["subject"].endswith("rejected")]
    assert "Nothing was deployed" in rejected["body"]
    assert "Mallory is not a listed manager approver (listed: Bob Smith)" in " ".join(
        m["body"] for m in receiver.messages
    )


async def test_timeout_rejects_tells_people_and_deploys_nothing(
    env, tmp_path: Path, receiver: Receiver
) -> None:
    run = DeployProductionRun(approval_timeout_hours=4 / 3600)  # four seconds
    paused = await run.paused_at("manager-approval")
    state = await run.state()

    assert state.is_failed()
    assert state.message.startswith(
        "rejected: approval timed out: no decision at manager-approval before the deadline"
    )
    assert prod_deploys(env) == []
    async with get_client() as client:
        final = await client.read_flow_run(paused.id)
    assert final.state is not None and final.state.is_failed()
    assert final.state.message == state.message  # the run says why, not Prefect's text
    assert [a for a, *_ in audit_records(tmp_path)] == ["approval.requested", "approval.timed_out"]
    subjects = receiver.subjects()
    assert subjects[0].startswith("deploy-production: awaiting manager approval")
    assert subjects[-1] == f"deploy-production of {PROD} rejected"
    assert "/runs/flow-run/" in receiver.messages[0]["body"]


async def test_sustained_regression_during_the_watch_rolls_back_to_the_previous_image(
    env, tmp_path: Path
) -> None:
    run = DeployProductionRun(watch_minutes=2, watch_interval_seconds=0.5)
    await run.answer("manager-approval", "Bob", True)
    await run.answer("reliability-approval", "Carol", True)
    for _ in range(300):  # the deploy, then 5xx at 30 % (baseline 0.4 %)
        if await asyncio.to_thread(prod_deploys, env):
            break
        await asyncio.sleep(0.1)
    await asyncio.to_thread(env.patch_app, PROD, metrics={"error_rate": 0.3})
    state = await run.state()

    assert state.is_failed()
    assert state.message.startswith("rolled back: sustained regression: 3 bad samples in a row")
    assert "5xx 30.0 %" in state.message
    deploys = prod_deploys(env)
    assert [d["detail"]["image"] for d in deploys] == [staging_digest_ref(env), PROD_V4]
    assert production(env)["current_image"] == PROD_V4
    rollbacks = [(a, d) for a, _, d in audit_records(tmp_path) if a.startswith("rollback")]
    assert [a for a, _ in rollbacks] == ["rollback.started", "rollback", "rollback.verified"]
    assert rollbacks[1][1]["image"] == PROD_V4 and rollbacks[1][1]["to_version"] == 4
    assert rollbacks[2][1]["smoke"].startswith("smoke test passed")
    assert notifications(tmp_path)[-1] == f"deploy-production: {PROD} rolled back"
    artifacts = await artifacts_of(state)
    watch = artifacts["deploy-production-watch"].data
    rows = json.loads(watch) if isinstance(watch, str) else watch
    assert [r["result"] for r in rows][-3:] == ["BAD", "BAD", "BAD"]


async def test_a_freeze_or_a_critical_release_outside_the_off_hours_asks_nobody(
    env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = write_inventory(tmp_path / "frozen.yaml", freeze=["mon-sun"])
    monkeypatch.setenv("HOTDASH_INVENTORY", str(frozen))
    state = await deploy_production(
        requested_by="Alice", reason="Ship it", checklist_url=CHECKLIST, return_state=True
    )
    assert state.is_failed()
    assert state.message.startswith(
        "not deployed: production deploys are frozen (mon-sun America/Los_Angeles) until "
    )
    assert audit_records(tmp_path) == [] and notifications(tmp_path) == []

    # Off-hours only on a day three days away: a critical release waits, a normal one does not.
    later = WEEKDAYS[(datetime.now(ZoneInfo("America/Los_Angeles")).weekday() + 3) % 7]
    inv = write_inventory(tmp_path / "critical.yaml", off_hours=[later])
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))
    state = await deploy_production(
        requested_by="Alice",
        reason="Ship it",
        checklist_url=CHECKLIST,
        critical=True,
        untested_image_reason=UNTESTED,
        return_state=True,
    )
    assert state.is_failed()
    assert state.message.startswith(
        f"not deployed: a critical deploy may go only in the off-hours window ({later} "
        "America/Los_Angeles), which opens "
    )
    assert "give deploy_window_override_reason" in state.message
    assert audit_records(tmp_path) == [] and notifications(tmp_path) == []

    run = DeployProductionRun(
        critical=True, deploy_window_override_reason="data fix for CVE-2025-1234, cannot wait"
    )
    await run.answer("manager-approval", "Bob", False, "not today")
    state = await run.state()
    assert state.message.startswith("rejected by Bob")
    [form] = await approval_forms(state)
    assert "overridden: data fix for CVE-2025-1234, cannot wait" in form
    assert "- critical: yes: a risky release, deployed only in the off-hours window" in form
    normal = DeployProductionRun()  # the same inventory: a normal release has no window
    await normal.answer("manager-approval", "Bob", False, "not today either")
    [form] = await approval_forms(await normal.state())
    assert "a normal deploy: no deploy window applies" in form


async def test_an_image_without_a_tested_build_needs_a_reason_shown_to_the_approvers(
    env, tmp_path: Path
) -> None:
    state = await deploy_production(
        requested_by="Alice", reason="Ship it", checklist_url=CHECKLIST, return_state=True
    )
    assert state.is_failed()
    promoted = staging_digest_ref(env)
    assert state.message == (
        f"not deployed: {promoted} is not a build of a tested commit (unknown: deploy-staging "
        f"never deployed {promoted}); deploy staging from a ref first, or give "
        "untested_image_reason"
    )
    assert audit_records(tmp_path) == [] and prod_deploys(env) == []

    run = DeployProductionRun()  # with untested_image_reason
    await run.answer("manager-approval", "Bob", False, "build it from main first")
    state = await run.state()
    [form] = await approval_forms(state)
    assert f"- commit and tests: unknown: deploy-staging never deployed {promoted}" in form
    assert f"- **commit** **untested image**: {UNTESTED}" in form
    [requested] = [d for a, _, d in audit_records(tmp_path) if a == "approval.requested"]
    assert requested["untested_image_reason"] == UNTESTED


async def test_a_spent_error_budget_lets_only_a_critical_fix_with_a_reason_through(
    env, tmp_path: Path
) -> None:
    # 2 % of production's requests fail: four times its 0.5 % budget, which is spent.
    env.patch_app(PROD, metrics={"error_rate": 0.02})
    normal = await deploy_production(
        requested_by="Alice",
        reason="Ship the October dashboard",
        checklist_url=CHECKLIST,
        untested_image_reason=UNTESTED,
        return_state=True,
    )
    assert normal.is_failed()
    assert normal.message.startswith(
        f"not deployed: the error budget of {PROD} is spent (availability 99.5 % over 30 d: "
        "budget left -300 %"
    )
    assert normal.message.endswith(
        "only a critical fix may be deployed now (critical, with error_budget_reason)"
    )
    assert audit_records(tmp_path) == [] and prod_deploys(env) == []
    no_reason = await deploy_production(
        requested_by="Alice",
        reason="Fix the 5xx storm",
        checklist_url=CHECKLIST,
        untested_image_reason=UNTESTED,
        critical=True,
        deploy_window_override_reason="the fix cannot wait for the night",
        return_state=True,
    )
    assert no_reason.message.startswith("not deployed: error_budget_reason: the availability")

    fix = DeployProductionRun(
        reason="Fix the 5xx storm",
        critical=True,
        deploy_window_override_reason="the fix cannot wait for the night",
        error_budget_reason="this release fixes the 5xx storm itself",
    )
    await fix.answer("manager-approval", "Bob", False, "checking the fix first")
    state = await fix.state()
    [form] = await approval_forms(state)
    assert "- **error budget** SPENT (availability 99.5 % over 30 d: budget left -300 %" in form
    assert "deployed as a critical fix: this release fixes the 5xx storm itself" in form


async def test_staging_not_ready_stops_before_any_approval(env, tmp_path: Path) -> None:
    env.patch_app(STAGING, endpoints={"/api/health": {"status": 503}})
    state = await deploy_production(
        requested_by="Alice", reason="Ship it", checklist_url=CHECKLIST, return_state=True
    )
    assert state.is_failed()
    assert state.message == "not deployed: staging smoke test failed (/api/health 503)"
    assert audit_records(tmp_path) == [] and prod_deploys(env) == []


async def test_bad_parameters_are_refused_before_anything_runs(env, tmp_path: Path) -> None:
    state = await deploy_production(
        requested_by="Alice",
        reason="Ship it",
        checklist_url="http://example.com/checklist",
        return_state=True,
    )
    assert state.is_failed() and "checklist_url" in state.message and "https" in state.message
    state = await deploy_production(
        requested_by="Alice",
        reason="Ship it",
        checklist_url=CHECKLIST,
        release_tag="v2025.13.01a",
        return_state=True,
    )
    assert state.is_failed() and "release_tag" in state.message
    assert "invalid date" in state.message
    state = await deploy_production(
        requested_by="Alice",
        reason="Ship it",
        checklist_url=CHECKLIST,
        deploy_window_override_reason="hotfix",
        return_state=True,
    )
    assert state.is_failed() and "deploy_window_override_reason: say why" in state.message
    assert audit_records(tmp_path) == [] and env.state()["mutations"] == []


@pytest.fixture
def origin(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Origin:
    """The HotDash repository with today's `a` tag taken; staging runs a tested build of
    main, deployed by deploy-staging."""
    repo = Origin(tmp_path)
    repo.commit({"package.json": "{}\n"}, "First release")
    repo.tag(f"{today_tag_prefix()}a")
    repo.commit({"VERSION": "2\n"}, "Fix the login redirect")
    inv = write_inventory(
        tmp_path / "repo.yaml",
        repository=str(repo.path),
        test_commands=[[sys.executable, "-c", "print('unit: 42 passed')"]],
    )
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))
    return repo


def today_tag_prefix() -> str:
    return f"v{datetime.now(UTC).astimezone(ZoneInfo('America/Los_Angeles')):%Y.%m.%d}"


async def test_a_tested_commit_is_shown_tagged_pushed_before_the_deploy_and_announced(
    env, origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    built = await deploy_staging(requested_by="Alice", return_state=True)
    assert built.is_completed(), built.message
    main = git("rev-parse", "main", cwd=origin.path)
    with Receiver() as status_page:
        monkeypatch.setenv("STATUS_PAGE_WEBHOOK_URL", status_page.url)
        run = DeployProductionRun(untested_image_reason=None, watch_minutes=0)
        paused = await run.paused_at("manager-approval")
        shown = await aread_flow_run_input("paused-manager-approval-description", paused.id)
        assert f"- **commit** `{main[:12]}`, tests passed (1 command)" in shown
        assert (
            f"- commit and tests: commit {main[:12]} (main: Fix the login redirect); "
            "tests passed (1 command)"
        ) in shown
        assert "untested image" not in shown
        assert "- **who may approve** Bob, Carol" in shown
        await run.answer("manager-approval", "Bob", True)
        await run.answer("reliability-approval", "Dave", True)
        state = await run.state()

    assert state.is_completed(), state.message
    tag = f"{today_tag_prefix()}b"  # `a` was already taken in the repository
    assert state.message.startswith(f"deployed {tag} to {PROD}")
    assert origin.tags()[tag] == main  # the tag is on the tested commit
    assert "Production release" in origin.tag_message(tag)
    # Tagged and pushed before the deploy.
    actions = [a for a, *_ in audit_records(tmp_path)]
    assert actions.index("release.tagged") < actions.index("deploy.started", 2)
    [tagged] = [d for a, _, d in audit_records(tmp_path) if a == "release.tagged"]
    assert (tagged["commit"], tagged["pushed"]) == (main, True)
    # Post-Deployment: the status page, then stakeholders with commit, tag, digest, approvers.
    [page] = status_page.messages
    assert page["event"] == "release" and page["component"] == PROD
    assert (page["status"], page["release"], page["commit"]) == ("operational", tag, main)
    promoted = production(env)["current_image"]
    digest = promoted.rsplit("@", 1)[1]
    [deployed] = [
        m for m in receiver.messages if m["subject"].endswith(f"{tag} deployed to {PROD}")
    ]
    for shown_line in (f"commit: {main}", f"release tag: {tag} on {main[:12]}, pushed",
                       f"digest: {digest}", "approved by: Bob and Dave"):  # fmt: skip
        assert shown_line in deployed["body"], deployed["body"]
    summary = str((await artifacts_of(state))["deploy-production"].data)
    assert f"| release tag | ok | {tag} on {main[:12]}, pushed |" in summary


async def test_a_tag_the_repository_refuses_is_reported_and_the_deploy_goes_on(
    env, origin: Origin, tmp_path: Path
) -> None:
    assert (await deploy_staging(requested_by="Alice", return_state=True)).is_completed()
    origin.refuse_pushes()
    run = DeployProductionRun(untested_image_reason=None, watch_minutes=0)
    await run.answer("manager-approval", "Bob", True)
    await run.answer("reliability-approval", "Carol", True)
    state = await run.state()

    assert state.is_completed(), state.message
    tag = f"{today_tag_prefix()}b"
    assert tag not in origin.tags()
    [tagged] = [d for a, _, d in audit_records(tmp_path) if a == "release.tagged"]
    assert tagged["pushed"] is False and "pushes are refused" in tagged["push_error"]
    summary = str((await artifacts_of(state))["deploy-production"].data)
    assert f"| release tag | info | {tag} on " in summary and "NOT pushed" in summary


async def test_the_deadline_timer_only_wakes_waiting_deploy_production_runs(env) -> None:
    from datetime import timedelta

    from prefect import flow

    from flows.deploy_production import approval_deadline

    @flow(name="not-a-deploy")
    async def other() -> None:
        return None

    done = await deploy_production(
        requested_by="Alice",
        reason="Ship it",
        checklist_url=CHECKLIST,
        image="-x",
        return_state=True,
    )
    stranger = await other(return_state=True)
    now = datetime.now(UTC)

    ended = await approval_deadline(
        flow_run_id=done.state_details.flow_run_id, deadline=now, return_state=True
    )
    assert ended.is_completed() and await ended.result() == "nothing to do: the run is Failed"
    wrong = await approval_deadline(
        flow_run_id=stranger.state_details.flow_run_id, deadline=now, return_state=True
    )
    assert wrong.is_failed() and "is a not-a-deploy run, not deploy-production" in wrong.message
    early = await approval_deadline(
        flow_run_id=done.state_details.flow_run_id,
        deadline=now + timedelta(hours=1),
        return_state=True,
    )
    assert early.is_failed() and "deadline: " in early.message and "s away" in early.message
