"""Drill: flyctl exits non-zero in the middle of a production deploy.

`deploy-production` runs against flysim (real HTTP, `flysim-fly` as flyctl, a real Prefect
server); both gates are approved through the API, as the UI's form does. Then `fly deploy`
fails, in the two ways it does in real life:

* before any machine moved (flysim's `deploy-fails` image: the new release fails its checks):
  the run fails with flyctl's own message, the rollback path finds production still on its
  release and changes nothing;
* after the machines moved (flyctl loses the deploy while monitoring it and exits 1; its
  error echoes the API token): the rollback path redeploys the release production ran
  before, verifies it, and the run fails saying so, with the token removed everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.deploy_production_run import DeployProductionRun
from tests.run_logs import run_log_text

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

PROD = "hotdash-production"
PROD_V4 = "registry.fly.io/hotdash-production:deployment-01J9SVKA0027H6P3AMKDQG6STT"
FAILS = "registry.fly.io/hotdash-staging:deploy-fails"
CRASH = "smoke checks for the new machines failed: the app appears to be crashing"


class Deploy(DeployProductionRun):
    """A deploy-production run in this process, approved through the API at both gates."""

    def __init__(self, **params: Any) -> None:
        super().__init__(
            reason="Drill: flyctl fails mid-deploy",
            checklist_url="https://example.com/go-live/drill",
            watch_minutes=0,
            **params,
        )

    async def finish(self) -> Any:
        await self.answer("manager-approval", "Carol", True, "drill")
        await self.answer("reliability-approval", "Dave", True, "drill")
        return await self.state(120)


@pytest.fixture
def env(flysim, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOTDASH_APPROVAL_POLL_SECONDS", "1")
    return flysim


def records(tmp_path: Path, name: str) -> list[dict[str, Any]]:
    path = tmp_path / "state" / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def prod_deploys(flysim) -> list[dict[str, Any]]:
    return [m for m in flysim.state()["mutations"] if m["app"] == PROD and m["kind"] == "deploy"]


async def test_flyctl_fails_before_machines_move_nothing_changes(env, tmp_path: Path) -> None:
    deploy = Deploy(image=FAILS)
    state = await deploy.finish()

    assert state.is_failed()
    message = state.message or ""
    assert message.startswith("deploy failed: "), message
    assert f"Error: release v5 failed: {CRASH}" in message, message  # flyctl's own words
    assert message.endswith(f"{PROD} still runs v4, nothing changed"), message
    # The failed release is on record; production still runs v4; no rollback was needed.
    assert [(d["detail"]["image"], d["detail"]["status"]) for d in prod_deploys(env)] == [
        (FAILS, "failed")
    ]
    assert env.state()["apps"][PROD]["current_image"] == PROD_V4
    actions = [r["action"] for r in records(tmp_path, "audit.jsonl")]
    assert actions[-2:] == ["deploy.started", "deploy.failed"], actions
    assert not any(a.startswith("rollback") for a in actions)
    assert records(tmp_path, "notifications.jsonl")[-1]["subject"] == (
        f"deploy-production: deploy to {PROD} failed"
    )


async def test_flyctl_fails_after_machines_moved_rolls_back_without_leaking_the_token(
    env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # flyctl (flysim-fly) itself; its first deploy goes out, then it loses track of the
    # rollout and exits 1 with an error that echoes the token. Later calls are untouched.
    real = env.env()["FLYCTL"]
    marker = tmp_path / "first-deploy-done"
    wrapper = tmp_path / "fly"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = deploy ] && [ ! -e "{marker}" ]; then\n'
        f'  touch "{marker}"\n'
        f'  "{real}" "$@" >/dev/null 2>&1\n'
        '  echo "Error: failed to wait for machines: lost connection (token $FLY_API_TOKEN)" >&2\n'
        "  exit 1\n"
        "fi\n"
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("FLYCTL", str(wrapper))
    staging_image = env.state()["apps"]["hotdash-staging"]["current_image"]

    deploy = Deploy()
    state = await deploy.finish()

    assert state.is_failed()
    message = state.message or ""
    said = "Error: failed to wait for machines: lost connection (token ***REDACTED***)"
    assert message.startswith("rolled back: deploy failed: ") and said in message, message
    assert "smoke test passed" in message, message
    # Machines moved to the new image (v5), then back to v4's image (v6).
    deploys = prod_deploys(env)
    assert [d["detail"]["status"] for d in deploys] == ["complete", "complete"]
    assert staging_image.split(":")[0].split("@")[0] in deploys[0]["detail"]["image"]
    assert deploys[1]["detail"]["image"] == PROD_V4
    assert deploys[1]["detail"]["strategy"] == "immediate"
    assert env.state()["apps"][PROD]["current_image"] == PROD_V4
    actions = [r["action"] for r in records(tmp_path, "audit.jsonl")]
    assert actions[-5:] == [
        "deploy.started",
        "deploy.failed",
        "rollback.started",
        "rollback",
        "rollback.verified",
    ]
    subjects = [n["subject"] for n in records(tmp_path, "notifications.jsonl")]
    assert subjects[-1] == f"deploy-production: {PROD} rolled back"
    # The token is nowhere: run state, audit log, notifications, the run's logs.
    everywhere = [
        message,
        (tmp_path / "state" / "audit.jsonl").read_text(),
        (tmp_path / "state" / "notifications.jsonl").read_text(),
        await run_log_text((await deploy.flow_run()).id),
    ]
    assert all(env.token not in text for text in everywhere)
    assert "***REDACTED***" in everywhere[1]
