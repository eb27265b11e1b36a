"""rollback against flysim (real HTTP, flysim-fly as a real subprocess) and a real Prefect
server. History is set up with PATCH /_sim/apps releases_add; "C runs" is a half-finished
deploy: the machines are moved to C's image through the Machines API, as flyctl would."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prefect.exceptions import ParameterTypeError

from flows.rollback import Environment, rollback
from hotdash_ops.audit import AuditLog
from tests.artifacts import artifact_of

pytestmark = pytest.mark.usefixtures("prefect_server")

STAGING = "hotdash-staging"
PRODUCTION = "hotdash-production"
S_V2 = "registry.fly.io/hotdash-staging:deployment-01J9CZKQ001HEAD8X4A1JH69RE"
S_V3 = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"
P_V2 = "registry.fly.io/hotdash-production:deployment-01J9MPSW00G7KYHRJXJG7DJ13N"
C_IMAGE = "registry.fly.io/hotdash-staging:deployment-01JC00000000000000000000C4"


def app_state(flysim, app: str = STAGING) -> dict:
    return flysim.state()["apps"][app]


def add_failed_release_c(flysim) -> None:
    flysim.patch_app(STAGING, releases_add=[{"version": 4, "status": "failed", "image": C_IMAGE}])


def run_release_c_on_the_machines(flysim) -> None:
    # A rolling deploy of v4 that failed after replacing the machines.
    for machine in app_state(flysim)["machines"]:
        config = machine["config"]
        config["image"] = C_IMAGE
        config["metadata"]["fly_release_version"] = "4"
        httpx.post(
            f"{flysim.url}/v1/apps/{STAGING}/machines/{machine['id']}",
            json={"config": config},
            headers={"Authorization": f"Bearer {flysim.token}"},
            timeout=10,
        ).raise_for_status()


def deploys(flysim) -> list[dict]:
    return [m for m in flysim.state()["mutations"] if m["kind"] == "deploy"]


def audit_records(tmp_path: Path) -> list:
    return AuditLog(tmp_path / "state" / "audit.jsonl").records()


async def test_failed_release_c_running_goes_to_b(flysim, tmp_path: Path) -> None:
    add_failed_release_c(flysim)
    run_release_c_on_the_machines(flysim)
    assert app_state(flysim)["current_image"] == C_IMAGE

    state = await rollback(
        environment=Environment.staging,
        reason="v4 crashes",
        requested_by="sam",
        return_state=True,
    )

    assert state.is_completed(), state.message
    assert state.message == (
        f"rolled back {STAGING} from v4 to v3 ({S_V3}); smoke test passed (6/6 endpoints)"
    )
    assert app_state(flysim)["current_image"] == S_V3
    [deploy] = deploys(flysim)
    assert deploy["detail"]["image"] == S_V3 and deploy["detail"]["strategy"] == "immediate"
    actions = [(r.action, r.actor, r.reason) for r in audit_records(tmp_path)]
    assert actions == [
        ("rollback.started", "sam", "v4 crashes"),
        ("rollback", "sam", "v4 crashes"),
        ("rollback.verified", "sam", "v4 crashes"),
    ]
    notes = (tmp_path / "state" / "notifications.jsonl").read_text().splitlines()
    assert json.loads(notes[-1])["subject"] == f"{STAGING}: rolled back"


async def test_complete_b_running_goes_to_a_not_the_second_row(flysim) -> None:
    # [A=v2 complete, B=v3 complete, C=v4 failed]: the deploy of C never replaced the machines,
    # so B runs; `fly releases` shows C, B, A and the second row (B) is the running release.
    add_failed_release_c(flysim)

    state = await rollback(
        environment=Environment.staging,
        reason="B is broken too",
        requested_by="sam",
        return_state=True,
    )

    assert state.is_completed(), state.message
    assert state.message.startswith(f"rolled back {STAGING} from v3 to v2 ({S_V2})")
    assert app_state(flysim)["current_image"] == S_V2


async def test_production_skips_its_failed_v3(flysim) -> None:
    state = await rollback(
        environment=Environment.production, reason="errors up", requested_by="sam",
        return_state=True,
    )  # fmt: skip

    assert state.is_completed(), state.message
    assert state.message.startswith(f"rolled back {PRODUCTION} from v4 to v2 ({P_V2})")
    assert app_state(flysim, PRODUCTION)["current_image"] == P_V2
    assert app_state(flysim, STAGING)["releases"][-1]["version"] == 3  # staging untouched


async def test_a_second_rollback_does_not_go_back_to_the_bad_release(flysim) -> None:
    # v4 (C) is deployed and bad; the first rollback goes to v3 and creates v5 with v3's image.
    # The second one must go to v2: not v4 (rolled back from), not v3 (running now).
    flysim.patch_app(STAGING, releases_add=[{"version": 4, "status": "complete", "image": C_IMAGE}])
    run_release_c_on_the_machines(flysim)

    first = await rollback(
        environment=Environment.staging, reason="v4 crashes", requested_by="sam",
        return_state=True,
    )  # fmt: skip
    second = await rollback(
        environment=Environment.staging, reason="v3 is broken too", requested_by="sam",
        return_state=True,
    )  # fmt: skip

    assert first.is_completed(), first.message
    assert first.message.startswith(f"rolled back {STAGING} from v4 to v3 ({S_V3})")
    assert second.is_completed(), second.message
    assert second.message.startswith(f"rolled back {STAGING} from v5 to v2 ({S_V2})")
    assert [d["detail"]["image"] for d in deploys(flysim)] == [S_V3, S_V2]
    assert app_state(flysim)["current_image"] == S_V2


async def test_explicit_target_version_is_used(flysim) -> None:
    state = await rollback(
        environment=Environment.staging, reason="back to v1", requested_by="sam",
        target_version=1, return_state=True,
    )  # fmt: skip

    assert state.is_completed(), state.message
    assert state.message.startswith(f"rolled back {STAGING} from v3 to v1 ")


async def test_failed_target_version_is_refused_and_nothing_is_deployed(
    flysim, tmp_path: Path
) -> None:
    add_failed_release_c(flysim)
    run_release_c_on_the_machines(flysim)

    state = await rollback(
        environment=Environment.staging, reason="x", requested_by="sam",
        target_version=4, return_state=True,
    )  # fmt: skip

    assert state.is_failed()
    assert state.message == (
        f"rollback of {STAGING} refused: target_version: v4 is failed; a rollback target "
        "must be a complete release; nothing was deployed"
    )
    assert deploys(flysim) == []
    assert audit_records(tmp_path) == []


async def test_smoke_failure_after_rollback_fails_the_run(flysim, tmp_path: Path) -> None:
    flysim.patch_app(STAGING, endpoints={"/health": {"status": 503}})  # broken whatever the image

    state = await rollback(
        environment=Environment.staging, reason="x", requested_by="sam", return_state=True
    )

    assert state.is_failed()
    assert state.message == (
        f"rolled back {STAGING} from v3 to v2 ({S_V2}); smoke test failed (/health 503)"
    )
    assert audit_records(tmp_path)[-1].action == "rollback.verification_failed"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"environment": "staging", "reason": "   ", "requested_by": "sam"}, "reason"),
        ({"environment": "staging", "reason": "x" * 501, "requested_by": "sam"}, "reason"),
        ({"environment": "dev", "reason": "x", "requested_by": "sam"}, "environment"),
        (
            {"environment": "staging", "reason": "x", "requested_by": "sam", "target_version": 0},
            "target_version",
        ),
    ],
)
async def test_bad_parameters_are_refused_naming_the_field(
    flysim, params: dict, field: str
) -> None:
    with pytest.raises(ParameterTypeError, match=field):
        await rollback(**params)
    assert flysim.state()["mutations"] == []


async def test_the_smoke_test_waits_for_the_machines_an_immediate_rollback_leaves_booting(
    flysim, tmp_path: Path
) -> None:
    # `fly deploy --strategy immediate` exits while the machines still boot; here they boot
    # for 1.5 s and answer nothing meanwhile. The smoke test waits for them, then judges.
    flysim.patch_image(S_V2, boot_seconds=1.5)
    state = await rollback(
        environment=Environment.staging, reason="drill", requested_by="dana", return_state=True
    )

    assert state.is_completed(), state.message
    assert state.message.endswith("smoke test passed (6/6 endpoints)")
    smoke = await artifact_of(state, f"smoke-{STAGING}-rollback")
    assert "(machines settled in " in (smoke.description or "")
    assert [m["state"] for m in app_state(flysim)["machines"]] == ["started"]
