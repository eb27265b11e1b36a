"""The SLIs behind the error budgets and the monitor's error_budget rule
(hotdash_ops.monitor.slo)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotdash_ops.models import PromResult
from hotdash_ops.monitor.alert_rules import Outcome, Severity
from hotdash_ops.monitor.error_budget import AppSlos
from hotdash_ops.monitor.slo import (
    HealthMark,
    app_budget,
    append_mark,
    availability_queries,
    budget_verdict,
    budget_windows,
    budgets_markdown,
    down_share,
    error_ratios,
    health_timelines,
    latency_query,
    read_marks,
    worse,
)

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
DAYS_30 = timedelta(days=30)
SLOS = AppSlos(availability=99.5, latency_p95_ms=800, latency=99)


def vector(**by_app: float) -> PromResult:
    return PromResult.parse(
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"app": a.replace("_", "-")}, "value": [0, str(v)]}
                    for a, v in by_app.items()
                ],
            },
        }
    )


def test_queries_cover_the_rules_windows_and_the_period() -> None:
    assert budget_windows([DAYS_30]) == [5 * M, 30 * M, H, 6 * H, DAYS_30]
    queries = availability_queries(H, ["hotdash-production"])
    assert queries["errors_5xx"] == (
        'sum by (app) (increase(fly_edge_http_responses_count{app=~"hotdash-production",'
        'status=~"5.."}[1h]))'
    )
    assert latency_query(6 * H, 800, ["a1"]) == (
        "avg_over_time((histogram_quantile(0.95, sum by (app, le) "
        '(rate(fly_edge_http_response_time_seconds_bucket{app=~"a1"}[1m]))) > bool 0.8)[6h:1m])'
    )
    assert latency_query(DAYS_30, 800, ["a1"], period=True).endswith("> bool 0.8)[30d:5m])")


def test_error_ratios_follow_the_no_series_rules() -> None:
    ratios = error_ratios(vector(a1=1000, a2=500, a3=0), vector(a1=10))
    assert ratios == {"a1": pytest.approx(0.01), "a2": 0.0}  # a3: no requests, no value


def test_down_share_weighs_each_probe_until_the_next() -> None:
    marks = [
        HealthMark(at=T0, up=["a1"]),
        HealthMark(at=T0 + 15 * M, down=["a1"]),
        HealthMark(at=T0 + 30 * M, up=["a1"]),
        HealthMark(at=T0 + 45 * M),  # a1 not probed (auto-stopped): its last verdict stands
    ]
    timelines = health_timelines(reversed(marks))  # any order in, time order out
    a1 = timelines["a1"]
    assert a1 == [(T0, False), (T0 + 15 * M, True), (T0 + 30 * M, False)]
    assert down_share(a1, T0, T0 + H) == pytest.approx(0.25)
    assert down_share(a1, T0 + 20 * M, T0 + 25 * M) == 1.0
    # A window partly before the first probe: the uncovered part is not counted as down.
    assert down_share(a1, T0 - H, T0 + H) == pytest.approx(0.125)
    assert down_share(timelines.get("other", []), T0, T0 + H) is None
    assert worse(None, 0.2, 0.1) == 0.2 and worse(None, None) is None


def test_the_history_is_appended_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "slo-health.jsonl"
    append_mark(path, HealthMark(at=T0 - DAYS_30, down=["a1"]))
    append_mark(path, HealthMark(at=T0, up=["a1"]))
    with path.open("a") as fh:
        fh.write('{"at": "torn\n')
    assert [m.at for m in read_marks(path, T0 - H)] == [T0]
    assert read_marks(tmp_path / "none.jsonl", T0) == []
    # Kept one period long: the line 30 days old goes (and the torn one) once it is a day
    # past the period.
    append_mark(path, HealthMark(at=T0 + H, up=["a1"]), keep_since=T0 - timedelta(days=28))
    assert len(path.read_text().splitlines()) == 2
    assert [m.at for m in read_marks(path, T0 - DAYS_30 - H)] == [T0, T0 + H]


def test_the_rule_is_critical_for_a_fast_burn_and_no_data_only_when_nothing_was_read() -> None:
    burning = app_budget(
        "a1",
        SLOS,
        {
            "availability": {5 * M: 0.1, H: 0.1, 30 * M: 0.1, 6 * H: 0.1, DAYS_30: 0.002},
            "latency": {DAYS_30: 0.0},
        },
    )
    verdict = budget_verdict("a1", burning)
    assert (verdict.outcome, verdict.severity) == (Outcome.FAIL, Severity.CRITICAL)
    assert verdict.value == pytest.approx(60.0)  # the smallest budget left, in %
    assert "BURNING: availability fast burn: burn 20.0x over 1h" in verdict.detail
    calm = budget_verdict("a1", app_budget("a1", SLOS, {"availability": {DAYS_30: 0.01}}))
    assert calm.outcome == Outcome.PASS  # spent (-100 %) but not burning now
    assert calm.value == pytest.approx(-100.0)
    unknown = budget_verdict("a1", None, "query failed: 503")
    assert unknown.outcome == Outcome.NO_DATA
    assert unknown.detail == "error budgets unknown: query failed: 503"


def test_the_weekly_section_shows_budget_left_per_app_and_sli() -> None:
    text = budgets_markdown(
        {
            "a1": app_budget("a1", SLOS, {"availability": {DAYS_30: 0.001}}),
            "a2": "query failed: 503",
        }
    )
    assert "| a1 | availability | 99.5 % over 30 d | 80 % |  |" in text
    assert "| a1 | latency | 99 % over 30 d | unknown |  |" in text
    assert "| a2 | all | | unknown | query failed: 503 |" in text
    assert budgets_markdown({}) == ""
