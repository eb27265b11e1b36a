"""Have the machines settled after a deploy? (hotdash_ops.deploys.settle, pure)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotdash_ops.deploys.settle import duration_seconds, settling
from hotdash_ops.models import Machine

NOW = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)


def machine(
    mid: str, state: str, checks: list[str] | None = None, *, up_seconds: float = 60
) -> Machine:
    started = int((NOW - timedelta(seconds=up_seconds)).timestamp() * 1000)
    data: dict[str, Any] = {
        "id": mid,
        "state": state,
        "region": "ord",
        "config": {
            "services": [
                {
                    "internal_port": 8080,
                    "checks": [{"type": "http", "path": "/health", "grace_period": "5s"}],
                }
            ]
        },  # fmt: skip
        "checks": [{"name": f"c{i}", "status": s} for i, s in enumerate(checks or [])],
        "events": [{"type": "start", "status": "started", "timestamp": started}],
    }
    return Machine.model_validate(data)


def test_booting_machines_are_not_settled_stopped_ones_are() -> None:
    s = settling([machine("a", "started", ["passing"]), machine("b", "starting")], NOW)
    assert not s.settled and s.waiting == ["b starting"]
    s = settling([machine("a", "started", ["passing"]), machine("b", "stopped")], NOW)
    assert s.settled and not s.failing
    s.seconds = 1.25
    assert s.describe() == "machines settled in 1.2 s"


def test_started_machines_wait_for_passing_checks() -> None:
    assert not settling([machine("a", "started", ["warning"])], NOW).settled
    assert settling([machine("a", "started", [])], NOW).waiting == ["a no check results yet"]


def test_a_check_failing_after_its_grace_period_is_a_verdict_not_a_reason_to_wait() -> None:
    early = settling([machine("a", "started", ["critical"], up_seconds=2)], NOW)
    assert not early.settled and early.waiting == ["a checks critical"]  # grace is 5 s
    late = settling([machine("a", "started", ["critical"], up_seconds=10)], NOW)
    assert late.settled and late.failing == ["a checks critical"]
    late.seconds = 10
    assert late.describe() == "machines settled in 10.0 s; checks failing on a checks critical"


def test_not_settled_is_described_with_what_it_waits_for() -> None:
    s = settling([machine("a", "replacing")], NOW)
    s.seconds = 300
    assert s.describe() == "machines not settled after 300 s: a replacing"


def test_fly_durations() -> None:
    assert duration_seconds("5s") == 5 and duration_seconds("1m30s") == 90
    assert duration_seconds("250ms") == 0.25 and duration_seconds(None) == 0
