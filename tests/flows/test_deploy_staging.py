"""deploy-staging against flysim (real HTTP, flysim-fly as a real subprocess) and a real
Prefect server. The inventory is the shipped one with its `deploy:` test commands pointed at
a temporary checkout whose commands really run (python instead of npm)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from flows.deploy_staging import deploy_staging
from hotdash_ops.audit import AuditLog
from tests.artifacts import artifacts_of
from tests.conftest import ROOT
from tests.run_logs import run_log_text

pytestmark = pytest.mark.usefixtures("prefect_server")

APP = "hotdash-staging"
V3_IMAGE = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"
BAD = "registry.fly.io/hotdash-staging:bad"
GOOD = "registry.fly.io/hotdash-staging:deployment-01JB0000000000000000000GOOD"
FAILS = "registry.fly.io/hotdash-staging:deploy-fails"
ENDPOINTS = ["/health", "/", "/app", "/api/health", "/favicon.ico", "/auth/callback"]


def write_inventory(path: Path, checkout: Path, commands: list[list[str]], **extra: object) -> Path:
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["deploy"] = {
        "checkout": str(checkout),
        "checkout_env": None,
        "test_commands": commands,
        "test_timeout_seconds": 60,
        **extra,
    }
    path.write_text(yaml.safe_dump(data))
    return path


def unit_test(marker: str = "unit-ran", code: int = 0) -> list[str]:
    # Stands in for `npm run test:unit`: prints, leaves a marker in the checkout, exits `code`.
    script = (
        f"import pathlib; print('unit: 42 passed'); pathlib.Path('{marker}').write_text('x'); "
        f"raise SystemExit({code})"
    )
    return [sys.executable, "-c", script]


@pytest.fixture
def checkout(flysim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with passing unit and e2e commands; HOTDASH_INVENTORY points at it."""
    repo = tmp_path / "HotDash"
    repo.mkdir()
    inv = write_inventory(
        tmp_path / "inventory.yaml",
        repo,
        [unit_test(), [sys.executable, "-c", "print('e2e: 7 passed')"]],
    )
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))
    return repo


def staging(flysim) -> dict:
    return flysim.state()["apps"][APP]


def audit_actions(tmp_path: Path) -> list[tuple[str, dict]]:
    return [(r.action, r.detail) for r in AuditLog(tmp_path / "state" / "audit.jsonl").records()]


async def test_bad_image_fails_smoke_and_rolls_back_to_the_previous_image(
    flysim, checkout: Path, tmp_path: Path
) -> None:
    state = await deploy_staging(requested_by="dana", image=BAD, return_state=True)

    assert state.is_failed()
    assert state.message.startswith("smoke test failed (/health 503, /app 500, /api/health 503)")
    assert f"rolled back to v3 ({V3_IMAGE}), rollback smoke test passed" in state.message
    # staging ends on the image it ran before: v4 (bad) then v5 = v3's image again
    app = staging(flysim)
    assert app["current_image"] == V3_IMAGE
    assert [(r["version"], r["image"]) for r in app["releases"][-2:]] == [(4, BAD), (5, V3_IMAGE)]
    assert [m["detail"]["strategy"] for m in flysim.state()["mutations"]] == [
        "rolling",
        "immediate",
    ]

    artifacts = await artifacts_of(state)
    rows = {row["endpoint"]: row for row in _table(artifacts["smoke-hotdash-staging"])}
    assert list(rows) == ENDPOINTS  # every endpoint, though /health failed first
    assert rows["/health"]["status"] == 503 and rows["/health"]["result"] == "FAIL: wrong status"
    assert rows["/app"]["status"] == 500
    assert rows["/"]["result"] == "ok" and rows["/auth/callback"]["status"] == 302
    after = _table(artifacts["smoke-hotdash-staging-rollback"])
    assert [r["result"] for r in after] == ["ok"] * len(ENDPOINTS)
    summary = str(artifacts["deploy-staging-hotdash-staging"].data)
    assert "rolled back hotdash-staging from v4 to v3" in summary

    actions = [a for a, _ in audit_actions(tmp_path)]
    assert actions == [
        "deploy.started",
        "deploy.completed",
        "rollback.started",
        "rollback",
        "rollback.verified",
    ]
    _, rollback = audit_actions(tmp_path)[-2]
    assert (rollback["from_version"], rollback["to_version"]) == (4, 3)


def _table(artifact) -> list[dict]:
    import json

    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


async def test_good_image_deploys_smoke_passes_and_test_output_is_in_the_log(
    flysim, checkout: Path, tmp_path: Path
) -> None:
    state = await deploy_staging(requested_by="dana", image=GOOD, return_state=True)

    assert state.is_completed(), state.message
    assert state.message == (f"deployed {GOOD} to {APP} as v4; smoke test passed (6/6 endpoints)")
    assert staging(flysim)["current_image"] == GOOD
    assert (checkout / "unit-ran").exists()
    flow_run_id = state.state_details.flow_run_id
    logs = await run_log_text(flow_run_id, expect=["unit: 42 passed", "e2e: 7 passed"])
    assert "unit: 42 passed" in logs and "e2e: 7 passed" in logs
    artifacts = await artifacts_of(state)
    assert "**Deploy may go on**" in str(artifacts["parity-hotdash-staging"].data)
    assert "SENTRY_DSN" in str(artifacts["parity-hotdash-staging"].data)  # info, not blocking
    assert [r["result"] for r in _table(artifacts["smoke-hotdash-staging"])] == ["ok"] * 6
    assert [a for a, _ in audit_actions(tmp_path)] == ["deploy.started", "deploy.completed"]


async def test_blocking_parity_difference_stops_before_any_fly_command_and_tests(
    flysim, checkout: Path
) -> None:
    flysim.patch_app("hotdash-production", endpoints={"/health": {"status": 503}})
    before = staging(flysim)

    state = await deploy_staging(requested_by="dana", image=GOOD, return_state=True)

    assert state.is_failed()
    assert state.message == "parity: 1 blocking (/health), 4 info; nothing was deployed"
    assert flysim.state()["mutations"] == []
    assert staging(flysim)["releases"] == before["releases"]
    assert not (checkout / "unit-ran").exists()  # the tests did not run either
    artifacts = await artifacts_of(state)
    parity = str(artifacts["parity-hotdash-staging"].data)
    assert "**Deploy stops**" in parity and "unhealthy before the deploy: production" in parity


async def test_required_secret_missing_blocks(flysim, tmp_path: Path, monkeypatch) -> None:
    inv = write_inventory(tmp_path / "inv.yaml", tmp_path, [], required_secrets=["SENTRY_DSN"])
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))

    state = await deploy_staging(requested_by="dana", image=GOOD, return_state=True)

    assert state.is_failed()
    assert state.message.startswith("parity: 1 blocking (required secrets)")
    assert flysim.state()["mutations"] == []


async def test_failing_tests_stop_the_deploy(flysim, tmp_path: Path, monkeypatch) -> None:
    inv = write_inventory(
        tmp_path / "inv.yaml", tmp_path, [unit_test(code=1), [sys.executable, "-c", "1/0"]]
    )
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))

    state = await deploy_staging(requested_by="dana", image=GOOD, return_state=True)

    assert state.is_failed()
    assert state.message.startswith("tests failed: `")
    assert state.message.endswith("exited 1; nothing was deployed")
    assert (tmp_path / "unit-ran").exists()
    assert flysim.state()["mutations"] == []


async def test_flyctl_failure_fails_the_run_with_its_message_and_is_audited(
    flysim, checkout: Path, tmp_path: Path
) -> None:
    state = await deploy_staging(requested_by="dana", image=FAILS, return_state=True)

    assert state.is_failed()
    crash = (
        "Error: release v4 failed: smoke checks for the new machines failed: "
        "the app appears to be crashing"
    )
    assert state.message.startswith(f"deploy of {FAILS} failed: `fly deploy` exited 1: {crash}")
    assert f"{APP} still runs v3 ({V3_IMAGE}), smoke test passed" in state.message
    assert flysim.token not in state.message
    assert staging(flysim)["current_image"] == V3_IMAGE
    actions = audit_actions(tmp_path)
    assert [a for a, _ in actions] == ["deploy.started", "deploy.failed"]
    assert actions[1][1]["error"] == f"`fly deploy` exited 1: {crash}"


async def test_source_dir_is_built_remotely_and_its_tests_run_there(
    flysim, tmp_path: Path, monkeypatch
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    inv = write_inventory(tmp_path / "inv.yaml", tmp_path / "elsewhere", [unit_test("built")])
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))
    monkeypatch.setenv("HOTDASH_SOURCE_ROOTS", str(tmp_path))

    state = await deploy_staging(requested_by="dana", source_dir=str(source), return_state=True)

    assert state.is_completed(), state.message
    assert (source / "built").exists()
    image = staging(flysim)["current_image"]
    assert image.startswith("registry.fly.io/hotdash-staging:deployment-") and image != V3_IMAGE
    assert state.message.startswith(f"deployed a build of {source} to {APP} as v4")


async def test_a_source_dir_outside_the_roots_is_refused_before_anything_happens(
    flysim, tmp_path: Path, monkeypatch
) -> None:
    root, outside = tmp_path / "builds", tmp_path / "home" / "someone"
    (root / "hotdash").mkdir(parents=True)
    outside.mkdir(parents=True)
    (root / "sneaky").symlink_to(outside)  # inside by name, outside once resolved
    inv = write_inventory(tmp_path / "inv.yaml", tmp_path / "elsewhere", [unit_test("ran")])
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inv))
    monkeypatch.setenv("HOTDASH_SOURCE_ROOTS", str(root))
    for source in (outside, root / "sneaky", root / "hotdash" / ".." / ".." / "home"):
        with pytest.raises(ValueError, match=r"source_dir: .* is outside the allowed source roots"):
            await deploy_staging(requested_by="dana", source_dir=str(source))
    assert flysim.state()["mutations"] == []
    assert not (outside / "ran").exists() and not (root / "hotdash" / "ran").exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "image, source_dir: give exactly one"),
        ({"image": GOOD, "source_dir": "/tmp"}, "image, source_dir: give exactly one"),
        (
            {"source_dir": "/nonexistent/hotdash"},
            "source_dir: /nonexistent/hotdash is not a directory",
        ),
    ],
)
async def test_bad_input_is_refused_before_anything_happens(
    flysim,
    checkout: Path,
    params: dict,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        await deploy_staging(requested_by="dana", **params)
    assert flysim.state()["mutations"] == []
    assert not (checkout / "unit-ran").exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"requested_by": "dana", "image": "--force"}, "image"),
        ({"requested_by": "   ", "image": GOOD}, "requested_by"),
    ],
)
async def test_invalid_parameters_name_the_field(flysim, params: dict, field: str) -> None:
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match=field):
        await deploy_staging(**params)
    assert flysim.state()["mutations"] == []


async def test_secrets_in_flyctl_output_never_reach_the_run_or_the_audit_log(
    flysim, checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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

    state = await deploy_staging(requested_by="dana", image=GOOD, return_state=True)

    assert state.is_failed()
    assert "`fly deploy` exited 1: Error: unauthorized: token ***REDACTED*** was rejected" in (
        state.message
    )
    assert flysim.token not in state.message
    [(_, started), (action, failed)] = audit_actions(tmp_path)
    assert action == "deploy.failed"
    assert "***REDACTED***" in failed["error"] and flysim.token not in failed["error"]
    assert flysim.token not in (tmp_path / "state" / "audit.jsonl").read_text()
    assert flysim.token not in await run_log_text(state.state_details.flow_run_id)
