"""deploy-staging against flysim (real HTTP, flysim-fly as a real subprocess), a real Prefect
server and a real git repository in a temp folder (tests.git_origin). The inventory is the
shipped one with `deploy.repository` pointed at that repository and test commands that
really run (python instead of npm) in the worktree at the deployed commit."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.deploy_staging import deploy_staging
from flows.enable_auto_stop import enable_auto_stop
from hotdash_ops.audit import AuditLog
from tests.artifacts import artifacts_of
from tests.conftest import BIN, ROOT
from tests.git_origin import Origin, git
from tests.run_logs import run_log_text
from tests.task_runs import task_states
from tests.timeline import most_down_at_once

pytestmark = pytest.mark.usefixtures("prefect_server")

APP = "hotdash-staging"
V3_IMAGE = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"
BAD = "registry.fly.io/hotdash-staging:bad"
BROKEN = "registry.fly.io/hotdash-staging:broken-app"
SLOW = "registry.fly.io/hotdash-staging:slow-start"
GOOD = "registry.fly.io/hotdash-staging:deployment-01JB0000000000000000000GOOD"
FAILS = "registry.fly.io/hotdash-staging:deploy-fails"
ENDPOINTS = ["/health", "/", "/app", "/api/health", "/favicon.ico", "/auth/callback"]
REVISION = "org.opencontainers.image.revision"
UNTESTED = "hotfix image built by hand during the incident"
# Stands in for `npm run test:unit`: says which commit it tests (the worktree's VERSION file).
UNIT = [sys.executable, "-c", "import pathlib; print('unit: 42 passed at', pathlib.Path('VERSION').read_text().strip())"]  # fmt: skip
E2E = [sys.executable, "-c", "print('e2e: 7 passed')"]


def write_inventory(path: Path, origin: Origin | None, **deploy: Any) -> Path:
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["deploy"] = {
        **data["deploy"],
        "repository": str(origin.path if origin else path.parent / "no-repository.git"),
        "repository_env": None,
        "test_commands": [UNIT, E2E],
        "test_timeout_seconds": 60,
        **deploy,
    }
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def origin(flysim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Origin:
    """The HotDash repository: main at VERSION 2 (one commit before it at VERSION 1), and an
    unmerged branch; HOTDASH_INVENTORY deploys from it."""
    repo = Origin(tmp_path)
    repo.commit({"package.json": "{}\n", "VERSION": "1\n"}, "First release")
    repo.commit({"VERSION": "2\n"}, "Fix the login redirect")
    repo.commit({"VERSION": "3-wip\n"}, "Work in progress", branch="feature/unmerged")
    monkeypatch.setenv("HOTDASH_INVENTORY", str(write_inventory(tmp_path / "inv.yaml", repo)))
    return repo


def use_inventory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, origin: Origin, **deploy: Any
) -> None:
    inv = write_inventory(tmp_path / "inv-2.yaml", origin, **deploy)
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))


def staging(flysim) -> dict:
    return flysim.state()["apps"][APP]


def audit_actions(tmp_path: Path) -> list[tuple[str, dict]]:
    return [(r.action, r.detail) for r in AuditLog(tmp_path / "state" / "audit.jsonl").records()]


def notifications(tmp_path: Path) -> list[dict[str, Any]]:
    import json

    path = tmp_path / "state" / "notifications.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _table(artifact) -> list[dict]:
    import json

    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


async def test_a_commit_of_main_is_tested_built_and_deployed_with_its_commit_recorded(
    flysim, origin: Origin, tmp_path: Path
) -> None:
    first = git("rev-parse", "main~1", cwd=origin.path)  # an older commit of main: VERSION 1

    state = await deploy_staging(requested_by="dana", ref=first[:10], return_state=True)

    assert state.is_completed(), state.message
    image = f"registry.fly.io/{APP}:git-{first}"
    assert state.message == (
        f"deployed commit {first[:12]} ({first[:10]}) to {APP} as v4; "
        "smoke test passed (6/6 endpoints)"
    )
    assert staging(flysim)["current_image"] == image
    [machine] = flysim.state()["apps"][APP]["machines"]
    # The tests ran in a worktree at exactly that commit, and the image came from it.
    logs = await run_log_text(state.state_details.flow_run_id, expect=["unit: 42 passed at 1"])
    assert "unit: 42 passed at 1" in logs and "e2e: 7 passed" in logs
    [deployed] = [d for a, d in audit_actions(tmp_path) if a == "deploy.completed"]
    assert deployed["commit"] == first and deployed["ref"] == first[:10]
    assert deployed["image"] == image and deployed["digest"].startswith("sha256:")
    assert deployed["tests"] == "tests passed (2 commands)" and deployed["tests_passed"] is True
    assert deployed["subject"] == "First release"
    assert [a for a, _ in audit_actions(tmp_path)] == ["deploy.started", "deploy.completed"]
    checks = {
        t[0]: t[1]
        for t in await task_states(state, expect=["check-parity", "run-tests", "smoke-test"])
    }
    assert {checks[n] for n in ("check-parity", "run-tests", "smoke-test")} == {"COMPLETED"}
    summary = str((await artifacts_of(state))["deploy-staging-hotdash-staging"].data)
    assert f"commit: `{first[:12]} (commit {first[:10]}: First release)`" in summary
    assert f"| deploy | ok | v4 {image} |" in summary
    [told] = notifications(tmp_path)
    assert told["subject"] == f"{APP}: deployed" and first[:12] in told["body"]
    # The worktree is gone; the mirror stays for the next deploy.
    assert list((tmp_path / "state" / "worktrees").iterdir()) == []
    labels = httpx_machine_labels(flysim, machine["id"])
    assert labels[REVISION] == first


def httpx_machine_labels(flysim, machine_id: str) -> dict[str, str]:
    import httpx

    response = httpx.get(
        f"{flysim.url}/v1/apps/{APP}/machines/{machine_id}",
        headers={"Authorization": f"Bearer {flysim.token}"},
        timeout=10,
    )
    return dict(response.raise_for_status().json()["image_ref"]["labels"])


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no-such-branch", r"ref: 'no-such-branch' is not a branch, tag or commit of .*origin\.git"),
        ("feature/unmerged", r"ref: feature/unmerged \([0-9a-f]{12}\) is not on main: merge it first"),
    ],
)  # fmt: skip
async def test_a_ref_that_does_not_exist_or_is_not_on_main_is_refused_before_anything(
    flysim, origin: Origin, tmp_path: Path, ref: str, message: str
) -> None:
    state = await deploy_staging(requested_by="dana", ref=ref, return_state=True)

    assert state.is_failed()
    assert re.match(message + r".*; nothing was deployed$", state.message), state.message
    assert flysim.state()["mutations"] == []
    assert audit_actions(tmp_path) == []
    summary = str((await artifacts_of(state))["deploy-staging-hotdash-staging"].data)
    assert "| commit | **FAILED** |" in summary
    assert "parity-hotdash-staging" not in await artifacts_of(state)  # stopped before parity


async def test_a_repository_that_cannot_be_fetched_is_a_clear_refusal(
    flysim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTDASH_INVENTORY", str(write_inventory(tmp_path / "inv.yaml", None)))

    state = await deploy_staging(requested_by="dana", return_state=True)

    assert state.is_failed()
    assert state.message.startswith(
        f"cannot fetch {tmp_path / 'no-repository.git'}: git fetch exited 128: "
    )
    assert state.message.endswith("; nothing was deployed")
    assert flysim.state()["mutations"] == []
    assert [n["subject"] for n in notifications(tmp_path)] == [
        f"{APP}: deploy stopped, main cannot be deployed"
    ]


async def test_failing_tests_stop_the_deploy_with_the_output_tail_in_the_record(
    flysim, origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [sys.executable, "-c", "print('1 failing: login redirect'); raise SystemExit(1)"]
    use_inventory(monkeypatch, tmp_path, origin, test_commands=[UNIT, failing, E2E])
    main = git("rev-parse", "main", cwd=origin.path)

    state = await deploy_staging(requested_by="dana", return_state=True)

    assert state.is_failed()
    assert state.message == (
        f"tests failed: `{shlex.join(failing)}` exited 1 at {main[:12]}; nothing was deployed"
    )
    assert flysim.state()["mutations"] == [] and audit_actions(tmp_path) == []
    # The graph shows where it broke: the tests' task run failed, saying why.
    [tests] = [t for t in await task_states(state, expect=["run-tests"]) if t[0] == "run-tests"]
    assert tests == (
        "run-tests", "FAILED", "Failed check", f"tests failed: `{shlex.join(failing)}` exited 1"
    )  # fmt: skip
    summary = str((await artifacts_of(state))["deploy-staging-hotdash-staging"].data)
    assert "### last lines of `" in summary and "1 failing: login redirect" in summary
    assert [n["subject"] for n in notifications(tmp_path)] == [
        f"{APP}: deploy stopped, tests failed at {main[:12]}"
    ]


async def test_a_hanging_test_is_stopped_at_the_timeout_and_nothing_is_deployed(
    flysim, origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hangs = [sys.executable, "-c", "import time; print('waiting for a browser', flush=True); time.sleep(60)"]  # fmt: skip
    use_inventory(monkeypatch, tmp_path, origin, test_commands=[hangs], test_timeout_seconds=1)

    state = await deploy_staging(requested_by="dana", return_state=True)

    assert state.is_failed()
    assert (
        state.message.startswith("tests failed: `") and " timed out after 1 s at " in state.message
    )
    assert flysim.state()["mutations"] == []
    summary = str((await artifacts_of(state))["deploy-staging-hotdash-staging"].data)
    assert "waiting for a browser" in summary


async def test_a_hotfix_deploys_while_production_health_answers_503(
    flysim, origin: Origin, tmp_path: Path
) -> None:
    # The production incident the hotfix is for: /health is shown, it blocks nothing.
    flysim.patch_app("hotdash-production", endpoints={"/health": {"status": 503}})

    state = await deploy_staging(
        requested_by="dana", reason="hotfix for the outage", return_state=True
    )

    assert state.is_completed(), state.message
    main = git("rev-parse", "main", cwd=origin.path)
    assert staging(flysim)["current_image"] == f"registry.fly.io/{APP}:git-{main}"
    artifacts = await artifacts_of(state)
    parity = str(artifacts["parity-hotdash-staging"].data)
    assert "**Deploy may go on**" in parity and "/health failing: production (503" in parity
    summary = str(artifacts["deploy-staging-hotdash-staging"].data)
    assert "| environment parity | info | parity: no blocking difference" in summary
    assert "/health failing: production (503 (expected 200)" in summary


async def test_a_fix_deploys_while_staging_is_down(flysim, origin: Origin, tmp_path: Path) -> None:
    # Runbook P1 "staging down": staging runs a broken image; the deploy of a fix repairs it.
    subprocess.run(
        [str(BIN / "flysim-fly"), "deploy", "-a", APP, "--image", BAD, "--strategy", "immediate", "--yes"],
        check=True, capture_output=True,
    )  # fmt: skip
    flysim.state()  # the broken release is v4
    before = len(flysim.state()["mutations"])

    state = await deploy_staging(requested_by="dana", return_state=True)

    assert state.is_completed(), state.message
    assert state.message.endswith(f"to {APP} as v5; smoke test passed (6/6 endpoints)")
    # One release: flyctl then updates the machine through the Machines API (flysim records it).
    assert [m["kind"] for m in flysim.state()["mutations"][before:]].count("deploy") == 1
    summary = str((await artifacts_of(state))["deploy-staging-hotdash-staging"].data)
    assert "/health failing: staging (503 (expected 200)" in summary
    assert f"before: `v4 {BAD}`" in summary


async def test_a_blocking_parity_difference_stops_the_deploy_unless_overridden(
    flysim, origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SENTRY_DSN is set on production only: staging cannot be like production.
    use_inventory(monkeypatch, tmp_path, origin, required_secrets=["SENTRY_DSN"])

    stopped = await deploy_staging(requested_by="dana", return_state=True)

    assert stopped.is_failed()
    assert stopped.message == (
        "parity: 1 blocking (required secrets), 4 info; nothing was deployed "
        "(override_reason passes it)"
    )
    assert flysim.state()["mutations"] == [] and audit_actions(tmp_path) == []
    assert "### last lines" not in str(
        (await artifacts_of(stopped))["deploy-staging-hotdash-staging"].data
    )

    why = "Sentry is being moved; staging gets its DSN tomorrow"
    state = await deploy_staging(requested_by="dana", override_reason=why, return_state=True)

    assert state.is_completed(), state.message
    actions = audit_actions(tmp_path)
    assert actions[0] == (
        "parity.overridden",
        {"blocking": ["required secrets: missing on staging: SENTRY_DSN"]},
    )
    assert AuditLog(tmp_path / "state" / "audit.jsonl").records()[0].reason == why
    summary = str((await artifacts_of(state))["deploy-staging-hotdash-staging"].data)
    assert f"parity overridden: `{why}`" in summary and f"OVERRIDDEN: {why}" in summary
    assert notifications(tmp_path)[-1]["body"].endswith(f"; parity overridden: {why}")


async def test_an_image_needs_an_untested_image_reason_which_is_recorded(
    flysim, origin: Origin, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="untested_image_reason: required with image"):
        await deploy_staging(requested_by="dana", image=GOOD)
    with pytest.raises(ValueError, match=r"untested_image_reason: only with image"):
        await deploy_staging(requested_by="dana", untested_image_reason=UNTESTED)
    assert flysim.state()["mutations"] == []

    state = await deploy_staging(
        requested_by="dana", image=GOOD, untested_image_reason=UNTESTED, return_state=True
    )

    assert state.is_completed(), state.message
    assert state.message == f"deployed {GOOD} to {APP} as v4; smoke test passed (6/6 endpoints)"
    [(_, started), (_, done)] = audit_actions(tmp_path)
    assert done["untested_image_reason"] == UNTESTED and "commit" not in done
    summary = str((await artifacts_of(state))["deploy-staging-hotdash-staging"].data)
    assert f"untested image: `{UNTESTED}`" in summary
    assert "| tests | skipped | not run: a prebuilt image" in summary


async def test_an_image_failing_the_smoke_test_is_rolled_back_to_the_previous_image(
    flysim, origin: Origin, tmp_path: Path
) -> None:
    # Its machines pass their checks (flyctl's rolling deploy completes); /app answers 500.
    state = await deploy_staging(
        requested_by="dana", image=BROKEN, untested_image_reason=UNTESTED, return_state=True
    )

    assert state.is_failed()
    assert state.message.startswith("smoke test failed (/app 500)")
    assert f"rolled back to v3 ({V3_IMAGE}), rollback smoke test passed" in state.message
    # The graph: the smoke test after the deploy failed, the one after the rollback passed.
    shown = await task_states(state, expect=["smoke-test", "smoke-test"])
    smokes = [t[1:3] for t in shown if t[0] == "smoke-test"]
    assert smokes == [("FAILED", "Failed check"), ("COMPLETED", "Completed")]
    app = staging(flysim)
    assert app["current_image"] == V3_IMAGE
    assert [(r["version"], r["image"]) for r in app["releases"][-2:]] == [
        (4, BROKEN), (5, V3_IMAGE),
    ]  # fmt: skip
    assert [m["detail"]["strategy"] for m in flysim.state()["mutations"]
            if m["kind"] == "deploy"] == ["rolling", "immediate"]  # fmt: skip
    artifacts = await artifacts_of(state)
    rows = {row["endpoint"]: row for row in _table(artifacts["smoke-hotdash-staging"])}
    assert list(rows) == ENDPOINTS  # every endpoint, though /app failed
    assert rows["/app"]["status"] == 500 and rows["/app"]["result"] == "FAIL: wrong status"
    after = _table(artifacts["smoke-hotdash-staging-rollback"])
    assert [r["result"] for r in after] == ["ok"] * len(ENDPOINTS)
    actions = [a for a, _ in audit_actions(tmp_path)]
    assert actions == [
        "deploy.started", "deploy.completed", "rollback.started", "rollback", "rollback.verified"
    ]  # fmt: skip


async def test_an_image_whose_checks_never_pass_fails_flyctls_rolling_deploy_and_is_rolled_back(
    flysim, origin: Origin, tmp_path: Path
) -> None:
    # /health answers 503: flyctl waits for the updated machine's checks until --wait-timeout
    # (1.5 s in flysim's test timing, 5 min on Fly) and fails; the machine keeps the image.
    state = await deploy_staging(
        requested_by="dana", image=BAD, untested_image_reason=UNTESTED, return_state=True
    )

    assert state.is_failed()
    [machine_id] = [m["id"] for m in staging(flysim)["machines"]]
    assert state.message.startswith(
        f"deploy of {BAD} failed: `fly deploy` exited 1: Error: timeout reached waiting for "
        f"health checks to pass for machine {machine_id}: context deadline exceeded; "
        "Fly says: release v4 failed"
    )
    assert f"rolled back to v3 ({V3_IMAGE}), rollback smoke test passed" in state.message
    assert staging(flysim)["current_image"] == V3_IMAGE
    actions = [a for a, _ in audit_actions(tmp_path)]
    # The deploy failed in flyctl; the shared roll-back-and-verify records the rest.
    assert actions[:2] == ["deploy.started", "deploy.failed"]
    assert actions[2:] == ["rollback.started", "rollback", "rollback.verified"]


async def test_a_deploy_outliving_its_limit_gets_sigterm_and_fly_records_it_interrupted(
    flysim, origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The machines of SLOW boot for 10 minutes, flyctl would wait 30 s for one; the deploy's
    # limit here is 5 s. flyctl gets SIGTERM, marks the release interrupted and exits
    # (SIGKILL would leave it "running"). The rollback has the same limit and needs about 1 s
    # alone; at 1.5 s, a loaded CI machine killed it before Python had started.
    flysim.patch_timing(wait_timeout_seconds=30)
    monkeypatch.setenv("FLYCTL_DEPLOY_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("FLYCTL_GRACE_SECONDS", "10")
    state = await deploy_staging(
        requested_by="dana", image=SLOW, untested_image_reason=UNTESTED, return_state=True
    )

    assert state.is_failed()
    assert (
        "timed out after 5 s; stopped with SIGTERM (flyctl exited 127); "
        "Fly says: release v4 interrupted"
    ) in state.message, state.message
    assert [r["status"] for r in staging(flysim)["releases"][-2:]] == ["interrupted", "complete"]
    assert f"rolled back to v3 ({V3_IMAGE}), rollback smoke test passed" in state.message
    failed = dict(audit_actions(tmp_path))["deploy.failed"]
    assert "Fly says: release v4 interrupted" in failed["error"]


# The repository's fly.toml as HotDash has one (its own auto-stop settings); a check grace
# period of 100 ms instead of 20 s, so the test's machines pass their checks quickly.
FLY_TOML = """app = 'hotdash-staging'
primary_region = 'ord'

[http_service]
  internal_port = 3000
  force_https = true
  auto_stop_machines = 'off'
  auto_start_machines = true
  min_machines_running = 0
  processes = ['app']

  [[http_service.checks]]
    interval = '15s'
    timeout = '2s'
    grace_period = '100ms'
    method = 'GET'
    path = '/health'
"""


async def test_auto_stop_set_by_enable_auto_stop_survives_the_next_deploy_one_machine_down_at_a_time(
    flysim, origin: Origin, tmp_path: Path
) -> None:
    flysim.patch_app(
        APP,
        machines_add=[{"cpu_kind": "shared", "cpus": 1, "memory_mb": 512, "count": 2,
                       "services": {"autostop": "off", "min_machines_running": 0,
                                    "internal_port": 3000}}],
    )  # fmt: skip
    enabled = await enable_auto_stop(
        apps=[APP], min_machines_running=1, dry_run=False, return_state=True
    )
    assert enabled.is_completed(), enabled.message
    assert services_of(flysim) == [("stop", True, 1)] * 3
    # main's fly.toml says auto-stop off: deployed as it is, it would undo enable-auto-stop.
    main = origin.commit({"fly.toml": FLY_TOML}, "Add fly.toml")

    state = await deploy_staging(requested_by="dana", return_state=True)

    assert state.is_completed(), state.message
    assert staging(flysim)["current_image"] == f"registry.fly.io/{APP}:git-{main}"
    assert services_of(flysim) == [("stop", True, 1)] * 3  # the deploy kept them
    assert most_down_at_once(staging(flysim)["timeline"]) == 1  # never two machines at once
    logs = await run_log_text(state.state_details.flow_run_id, expect=["kept the release's"])
    assert "[http_service] auto_stop_machines: fly.toml 'off', kept 'stop'" in logs
    [deployed] = [d for a, d in audit_actions(tmp_path) if a == "deploy.completed"]
    assert deployed["config"] == "fly.hotdash-ops.json"


def services_of(flysim) -> list[tuple[str, bool, int]]:
    return [
        (s["autostop"], s["autostart"], s["min_machines_running"])
        for m in staging(flysim)["machines"]
        for s in m["config"]["services"]
    ]


async def test_flyctl_failure_fails_the_run_with_its_message_and_is_audited(
    flysim, origin: Origin, tmp_path: Path
) -> None:
    state = await deploy_staging(
        requested_by="dana", image=FAILS, untested_image_reason=UNTESTED, return_state=True
    )

    assert state.is_failed()
    crash = (
        "Error: release v4 failed: smoke checks for the new machines failed: "
        "the app appears to be crashing"
    )
    assert state.message.startswith(f"deploy of {FAILS} failed: `fly deploy` exited 1: {crash}")
    assert f"{APP} still runs v3 ({V3_IMAGE}), smoke test passed" in state.message
    assert flysim.token not in state.message
    actions = audit_actions(tmp_path)
    assert [a for a, _ in actions] == ["deploy.started", "deploy.failed"]
    assert actions[1][1]["error"] == f"`fly deploy` exited 1: {crash}; Fly says: release v4 failed"


async def test_no_test_commands_means_no_deploy_of_a_ref(
    flysim, origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_inventory(monkeypatch, tmp_path, origin, test_commands=[])
    with pytest.raises(ValueError, match=r"deploy.test_commands: none configured"):
        await deploy_staging(requested_by="dana")
    assert flysim.state()["mutations"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"requested_by": "dana", "image": "--force"}, "image"),
        ({"requested_by": "   "}, "requested_by"),
        ({"requested_by": "dana", "ref": "--upload-pack=touch /tmp/x"}, "ref"),
        ({"requested_by": "dana", "ref": "main..evil"}, "ref"),
        ({"requested_by": "dana", "override_reason": "because"}, "override_reason"),
        ({"requested_by": "dana", "image": GOOD, "untested_image_reason": "x\ny" * 5}, "untested_image_reason"),
    ],
)  # fmt: skip
async def test_invalid_parameters_name_the_field(flysim, params: dict, field: str) -> None:
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match=field):
        await deploy_staging(**params)
    assert flysim.state()["mutations"] == []


async def test_secrets_in_flyctl_output_never_reach_the_run_or_the_audit_log(
    flysim, origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # flyctl itself (flysim-fly), except that its deploy echoes the token in its error.
    wrapper = tmp_path / "fly"
    real = flysim.env()["FLYCTL"]
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = deploy ]; then\n'
        '  echo "Error: unauthorized: token $FLY_API_TOKEN was rejected" >&2; exit 1\n'
        "fi\n"
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("FLYCTL", str(wrapper))

    state = await deploy_staging(requested_by="dana", return_state=True)

    assert state.is_failed()
    assert "`fly deploy` exited 1: Error: unauthorized: token ***REDACTED*** was rejected" in (
        state.message
    )
    assert flysim.token not in state.message
    [(_, started), (action, failed)] = audit_actions(tmp_path)
    assert action == "deploy.failed" and started["commit"] == failed["commit"]
    assert "***REDACTED***" in failed["error"] and flysim.token not in failed["error"]
    assert flysim.token not in (tmp_path / "state" / "audit.jsonl").read_text()
    assert flysim.token not in await run_log_text(state.state_details.flow_run_id)


async def test_the_demo_repository_deploys_offline_with_the_shipped_inventory(
    flysim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `make demo` does: a local repository made from deployments/demo-checkout, the
    # shipped inventory's own test commands (`npm run test:unit`, `npm run test:e2e`).
    from tests.e2e.demo_stack import stack_module

    repo = stack_module().demo_repository(tmp_path / "demo-state")
    monkeypatch.setenv("HOTDASH_REPOSITORY", str(repo))

    refused = await deploy_staging(requested_by="dana", ref="feature/unmerged", return_state=True)
    assert refused.is_failed() and "is not on main: merge it first" in refused.message

    state = await deploy_staging(requested_by="dana", return_state=True)

    assert state.is_completed(), state.message
    main = git("rev-parse", "main", cwd=repo)
    assert staging(flysim)["current_image"] == f"registry.fly.io/{APP}:git-{main}"
    logs = await run_log_text(state.state_details.flow_run_id, expect=["staging answers /health"])
    assert "[npm run test:unit]" in logs and "staging answers /health" in logs
    assert stack_module().demo_repository(tmp_path / "demo-state") == repo  # made once
