"""infrastructure-monitor's error budgets for the apps with SLOs (hotdash-production in the
shipped inventory: availability 99.5 %, latency p95 <= 1 s in 99 % of minutes, 30 days),
against flysim (real HTTP), a real Prefect server and a real webhook receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.infrastructure_monitor import infrastructure_monitor
from flows.silence_alerts import silence_alerts
from hotdash_ops.monitor.slo import HealthMark, append_mark
from tests.artifacts import artifact_of
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("prefect_server")

PROD = "hotdash-production"  # 5xx 0.4 %, p95 610 ms in the scenario


async def rows_of(state, key: str) -> dict[str, dict[str, Any]]:
    table = await artifact_of(state, key)
    data = json.loads(table.data) if isinstance(table.data, str) else table.data
    return {row["app"]: row for row in data}


@pytest.fixture
def state_dir(flysim) -> Path:
    import os

    return Path(os.environ["HOTDASH_STATE_DIR"])


async def test_a_healthy_app_spends_its_budget_slowly_and_nothing_fires(
    flysim, receiver: Receiver, state_dir: Path
) -> None:
    state = await infrastructure_monitor(return_state=True)
    assert state.is_completed(), state.message
    monitor = await rows_of(state, "infrastructure-monitor")
    assert monitor[PROD]["error_budget"] == "pass"
    assert "error_budget" not in monitor["hotdash-staging"]  # no SLO, no rule
    budgets = await rows_of(state, "error-budgets")
    assert list(budgets) == [PROD]
    # 0.4 % of requests fail against a 0.5 % budget: a fifth of it is left.
    assert budgets[PROD]["availability SLO"] == "99.5 % / 30 d"
    assert budgets[PROD]["availability budget left %"] == pytest.approx(20.0, abs=0.5)
    assert budgets[PROD]["latency budget left %"] == 100.0
    assert budgets[PROD]["burning"] == ""
    assert receiver.messages == []
    [line] = (state_dir / "slo-health.jsonl").read_text().splitlines()
    assert json.loads(line)["up"] == [PROD]


async def test_a_fast_burn_fires_a_critical_alert_on_the_first_run(
    flysim, receiver: Receiver
) -> None:
    flysim.patch_app(PROD, metrics={"error_rate": 0.1})  # 20x the budget's rate
    state = await infrastructure_monitor(return_state=True)
    assert state.is_completed(), state.message
    monitor = await rows_of(state, "infrastructure-monitor")
    assert monitor[PROD]["error_budget"] == "FAIL (critical)"
    [subject] = [s for s in receiver.subjects() if "Error budget burning" in s]
    assert subject.startswith(f"[FIRING critical] {PROD}: Error budget burning")
    body = next(m["body"] for m in receiver.messages if "Error budget burning" in m["subject"])
    assert "availability fast burn: burn 20.0x over 1h and 20.0x over 5m" in body
    assert "Flows: incident-response, rollback" in body
    budgets = await rows_of(state, "error-budgets")
    assert "availability: fast burn (critical)" in budgets[PROD]["burning"]
    assert "availability: slow burn (warning)" in budgets[PROD]["burning"]


async def test_a_fast_burn_under_a_silence_is_judged_recorded_and_held(
    flysim, receiver: Receiver, state_dir: Path
) -> None:
    # error_budget is one of the engine's rules: a silence on the app holds it like the others.
    made = await silence_alerts(
        app=PROD, duration_minutes=60, reason="planned failover", requested_by="bob",
        return_state=True,
    )  # fmt: skip
    assert made.is_completed(), made.message
    flysim.patch_app(PROD, metrics={"error_rate": 0.1})
    state = await infrastructure_monitor(return_state=True)
    assert state.is_completed(), state.message
    monitor = await rows_of(state, "infrastructure-monitor")
    assert monitor[PROD]["error_budget"] == "FAIL (critical)"
    assert "error_budget firing (critical) silenced until " in monitor[PROD]["alerts"]
    assert [m for m in receiver.messages if "Error budget burning" in m["subject"]] == []
    history = (state_dir / "alert-history.jsonl").read_text()
    assert '"app":"hotdash-production","rule":"error_budget","change":"fired"' in history


async def test_a_failing_health_endpoint_spends_availability_by_the_time_it_was_down(
    flysim, receiver: Receiver, state_dir: Path
) -> None:
    # An earlier monitor run, two hours ago, already found /health failing.
    now = datetime.now(UTC)
    append_mark(
        state_dir / "slo-health.jsonl", HealthMark(at=now - timedelta(hours=2), down=[PROD])
    )
    flysim.patch_app(PROD, endpoints={"/health": {"status": 503}})
    state = await infrastructure_monitor(return_state=True)
    monitor = await rows_of(state, "infrastructure-monitor")
    assert monitor[PROD]["error_budget"] == "FAIL (critical)"
    budgets = await rows_of(state, "error-budgets")
    # Down for 2 of the last 720 hours (0.28 %) is less than the 0.4 % of 5xx: the worse counts.
    assert budgets[PROD]["availability budget left %"] == pytest.approx(20.0, abs=0.5)
    assert "availability: fast burn (critical)" in budgets[PROD]["burning"]
    marks = [json.loads(x) for x in (state_dir / "slo-health.jsonl").read_text().splitlines()]
    assert [m["down"] for m in marks] == [[PROD], [PROD]]
