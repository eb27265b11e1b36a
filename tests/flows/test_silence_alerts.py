"""silence-alerts with the monitor: held and shown as silenced, recorded, sent after expiry;
audited; bad input refused naming the field (flysim, real Prefect server, real webhook)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from flows.infrastructure_monitor import infrastructure_monitor
from flows.silence_alerts import silence_alerts
from tests.artifacts import artifact_of
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("prefect_server")

PROD = "hotdash-production"


async def rows(state, key: str) -> list[dict[str, Any]]:
    table = await artifact_of(state, key)
    return json.loads(table.data) if isinstance(table.data, str) else table.data


def audit_actions(state_dir: Path) -> list[tuple[str, str, str]]:
    lines = (state_dir / "audit.jsonl").read_text().splitlines()
    return [(r["action"], r["target"], r["actor"]) for r in map(json.loads, lines)]


async def test_silenced_alert_is_held_shown_recorded_and_sent_after_expiry(
    flysim, receiver: Receiver
) -> None:
    state_dir = Path(os.environ["HOTDASH_STATE_DIR"])
    made = await silence_alerts(
        app=PROD, duration_minutes=90, reason="database migration", requested_by="bob",
        return_state=True,
    )  # fmt: skip
    assert made.is_completed(), made.message
    assert made.message.startswith("silenced sil-") and "hotdash-production until" in made.message
    [silence] = await rows(made, "silence-alerts")
    assert (silence["app"], silence["state"], silence["requested by"]) == (PROD, "active", "bob")

    # Production goes down during the work: a critical alert, recorded and shown, not sent.
    flysim.patch_app(PROD, endpoints={"/health": {"status": 503}})
    await infrastructure_monitor(return_state=True)
    held = await infrastructure_monitor(return_state=True)
    assert held.is_completed(), held.message
    assert receiver.messages == []
    assert "silenced: hotdash-production" in held.message
    table = {r["app"]: r for r in await rows(held, "infrastructure-monitor")}
    assert "health firing (critical) silenced until " in table[PROD]["alerts"]
    history = (state_dir / "alert-history.jsonl").read_text()
    assert '"app":"hotdash-production","rule":"health","change":"fired"' in history
    assert '"silenced_until":"' in history

    listed = await silence_alerts(action="list", return_state=True)
    assert listed.message.startswith("1 active silence(s): sil-")

    ended = await silence_alerts(
        action="expire", silence_id=silence["id"], requested_by="carol", return_state=True
    )
    assert ended.is_completed(), ended.message
    # The next tick sends what still fires.
    after = await infrastructure_monitor(return_state=True)
    assert after.is_completed(), after.message
    assert any(s.startswith("[FIRING critical] hotdash-production") for s in receiver.subjects())
    assert audit_actions(state_dir) == [
        ("silence.create", PROD, "bob"),
        ("silence.expire", PROD, "carol"),
    ]


async def test_every_app_with_star_and_bad_input_refused_naming_the_field(flysim) -> None:
    star = await silence_alerts(app="*", duration_minutes=5, reason="Fly maintenance",
                                requested_by="bob", return_state=True)  # fmt: skip
    assert "every app until" in star.message
    cases = [
        ({"app": "hotdash-nope", "reason": "x", "requested_by": "b"},
         "app: 'hotdash-nope' is not an app or dependency of the inventory"),
        ({"app": "hotdash-staging", "requested_by": "b"}, "reason: required to create"),
        ({"app": "hotdash-staging", "reason": "x"}, "requested_by: required to create"),
        ({"action": "expire", "requested_by": "b"}, "silence_id: required to expire"),
        ({"action": "expire", "silence_id": "sil-00000000", "requested_by": "b"},
         "silence_id: no silence 'sil-00000000'"),
    ]  # fmt: skip
    for params, message in cases:
        state = await silence_alerts(**params, return_state=True)
        assert state.is_failed(), params
        assert message in state.message, (params, state.message)
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match="app"):
        await silence_alerts(app="--all", reason="x", requested_by="b")
    with pytest.raises(ParameterTypeError, match="duration_minutes"):
        await silence_alerts(app="*", duration_minutes=0, reason="x", requested_by="b")
