"""Error budgets and burn rates (hotdash_ops.monitor.error_budget) against the worked examples
of Google's SRE workbook, "Alerting on SLOs" (https://sre.google/workbook/alerting-on-slos/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from hotdash_ops.monitor.error_budget import (
    FAST_BURN,
    SLOW_BURN,
    AppSlos,
    Slo,
    budget_consumed,
    budget_left,
    burn_rate,
    duration,
    error_budget,
    evaluate_sli,
    time_to_exhaustion,
    windows,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
DAYS_30 = timedelta(days=30)


@pytest.mark.parametrize(
    ("consumed", "long_window", "rate"),
    [
        (0.02, timedelta(hours=1), 14.4),  # page
        (0.05, timedelta(hours=6), 6.0),  # page
        (0.10, timedelta(days=3), 1.0),  # ticket
    ],
)
def test_the_workbooks_table_of_budget_consumed_windows_and_burn_rates(
    consumed: float, long_window: timedelta, rate: float
) -> None:
    # The workbook's recommended rules for a 30-day SLO: 2 % of the budget in 1 hour is a burn
    # rate of 14.4, 5 % in 6 hours is 6, 10 % in 3 days is 1; budget consumed = burn rate x
    # window / period, both ways round.
    assert budget_consumed(rate, long_window, DAYS_30) == pytest.approx(consumed)
    assert consumed * (DAYS_30 / long_window) == pytest.approx(rate)


def test_the_rules_here_are_the_workbooks_first_two_with_short_windows_of_a_twelfth() -> None:
    assert FAST_BURN.burn_rate() == pytest.approx(14.4)
    assert SLOW_BURN.burn_rate() == pytest.approx(6.0)
    assert (FAST_BURN.long_window, FAST_BURN.short_window) == (H, 5 * M)
    assert (SLOW_BURN.long_window, SLOW_BURN.short_window) == (6 * H, 30 * M)
    for rule in (FAST_BURN, SLOW_BURN):
        assert rule.long_window / rule.short_window == 12
    assert windows() == [5 * M, 30 * M, H, 6 * H]
    assert [duration(w) for w in windows()] == ["5m", "30m", "1h", "6h"]
    assert duration(DAYS_30) == "30d"


@pytest.mark.parametrize(
    ("rate", "error_ratio", "exhausted"),
    [
        # The workbook's table for a 99.9 % SLO over 30 days: burn rate, error rate, time to
        # exhaustion.
        (1, 0.001, timedelta(days=30)),
        (2, 0.002, timedelta(days=15)),
        (10, 0.01, timedelta(days=3)),
        (1000, 1.0, timedelta(minutes=43.2)),
    ],
)
def test_the_workbooks_table_of_burn_rates_and_time_to_exhaustion(
    rate: float, error_ratio: float, exhausted: timedelta
) -> None:
    assert burn_rate(error_ratio, 0.999) == pytest.approx(rate)
    spent_in = time_to_exhaustion(rate, DAYS_30)
    assert spent_in is not None
    assert spent_in.total_seconds() == pytest.approx(exhausted.total_seconds())


def test_budget_left_and_its_edges() -> None:
    # 99.5 % over 30 days: a budget of 0.5 %. A period at 0.1 % errors left 80 % of it;
    # at 0.5 % none; at 1 % it is overspent twice over.
    assert error_budget(0.995) == pytest.approx(0.005)
    assert budget_left(0.001, 0.995) == pytest.approx(0.8)
    assert budget_left(0.005, 0.995) == pytest.approx(0.0)
    assert budget_left(0.01, 0.995) == pytest.approx(-1.0)
    assert time_to_exhaustion(0) is None
    with pytest.raises(ValueError, match="target: must be between 0 and 1"):
        error_budget(1.0)
    with pytest.raises(ValueError, match="error_ratio: must not be negative"):
        burn_rate(-0.1, 0.99)


def test_a_rule_fires_only_when_both_windows_burn_above_its_rate() -> None:
    slo = Slo(target=99.5)  # budget 0.5 %: 14.4x is a 7.2 % error ratio, 6x is 3 %
    ratios = {5 * M: 0.08, H: 0.075, 30 * M: 0.08, 6 * H: 0.02, DAYS_30: 0.001}
    status = evaluate_sli("availability", slo, ratios)
    fast, slow = status.rules
    assert fast.fires and fast.long_rate == pytest.approx(15.0)
    assert not slow.fires  # 6 h at 4x: the long window says it has not lasted
    assert status.firing == [fast]
    assert status.budget_left == pytest.approx(0.8)
    assert not status.spent
    assert fast.describe() == (
        "fast burn: burn 15.0x over 1h and 16.0x over 5m (fires above 14.4x on both)"
    )
    # The incident is over: the 5-minute window is clean, so the fast burn resets at once.
    over = evaluate_sli("availability", slo, {**ratios, 5 * M: 0.0})
    assert over.firing == []
    # No data on a window is not evidence of burning.
    unknown = evaluate_sli("availability", slo, {H: 0.5})
    assert unknown.firing == [] and unknown.budget_left is None
    assert unknown.rules[0].describe().startswith("fast burn: burn 100.0x over 1h and no data")


def test_a_spent_budget_and_the_inventorys_slo_section() -> None:
    slos = AppSlos.model_validate({"availability": 99.5, "latency_p95_ms": 800, "latency": 99})
    objectives = slos.objectives()
    assert list(objectives) == ["availability", "latency"]
    assert objectives["latency"].share == pytest.approx(0.99)
    spent = evaluate_sli("latency", objectives["latency"], {DAYS_30: 0.012})
    assert spent.spent and spent.budget_left == pytest.approx(-0.2)
    assert spent.describe() == "latency 99 % over 30 d: budget left -20 %"
    with pytest.raises(ValidationError, match="latency and latency_p95_ms: give both or neither"):
        AppSlos.model_validate({"availability": 99.5, "latency": 99})
    with pytest.raises(ValidationError, match="availability"):
        AppSlos.model_validate({"availability": 100})
