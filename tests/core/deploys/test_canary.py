"""The canary's plan, reads and samples (hotdash_ops.deploys.canary) and its chart."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from hotdash_ops.deploys.canary import (
    AppDeploy,
    CanaryAnalysis,
    NoBaseline,
    choose_canary,
    deploy_plan,
    instance_figures,
    instance_queries,
    sample_rounds,
    samples_at,
)
from hotdash_ops.deploys.canary_chart import render_canary_chart
from hotdash_ops.deploys.canary_judge import judge
from hotdash_ops.models import Machine, PromResult

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def vector(**by_instance: float) -> PromResult:
    return PromResult.parse(
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"app": "a", "instance": i}, "value": [0, str(v)]}
                    for i, v in by_instance.items()
                ],
            },
        }
    )


def test_the_plan_takes_the_runs_parameters_over_the_inventory() -> None:
    settings = AppDeploy.model_validate(
        {"strategy": "canary", "canary": {"on_inconclusive": "promote"}}
    )
    plan = deploy_plan(settings, None, None)
    assert plan.strategy == "canary" and plan.policy.analysis_minutes == 10
    assert plan.describe() == (
        "canary: one machine first, judged against the others for 10 min (inconclusive: "
        "promote), then rolling one machine at a time, then the watch"
    )
    assert deploy_plan(settings, "canary", 2.5).policy.analysis_minutes == 2.5
    assert deploy_plan(settings, "rolling", None).describe().startswith("rolling:")
    assert deploy_plan(AppDeploy(), None, None).strategy == "rolling"  # the default
    with pytest.raises(ValidationError, match="on_inconclusive"):
        AppDeploy.model_validate({"canary": {"on_inconclusive": "maybe"}})
    with pytest.raises(ValidationError, match="strategy"):
        AppDeploy.model_validate({"strategy": "bluegreen"})


def machine(mid: str, state: str = "started") -> Machine:
    return Machine.model_validate(
        {"id": mid, "state": state, "region": "ord", "config": {"image": "old"}}
    )


def test_the_first_started_machine_is_the_canary_and_the_other_started_ones_the_baseline() -> None:
    choice = choose_canary([machine("c3"), machine("a1", "stopped"), machine("b2")])
    assert choice.canary.id == "b2" and [m.id for m in choice.baseline] == ["c3"]
    with pytest.raises(NoBaseline, match="at least 2 started machines to compare, the app has 1"):
        choose_canary([machine("a1"), machine("b2", "stopped")])


def test_queries_are_per_instance_and_refuse_a_bad_app_name() -> None:
    queries = instance_queries("hotdash-production")
    assert queries["errors_5xx"] == (
        "sum by (app, instance) "
        '(rate(fly_app_http_responses_count{app="hotdash-production",status=~"5.."}[1m]))'
    )
    assert "fly_app_http_response_time_seconds_bucket" in queries["p95"]
    with pytest.raises(ValueError, match="is not a Fly app name"):
        instance_queries('x"}) or vector(1')


def test_instance_figures_follow_prometheus_no_series_rules() -> None:
    figures = instance_figures(
        vector(m1=10.0, m2=2.0, m3=0.0),  # m4: no request series at all
        vector(m1=0.5),  # m2 had requests and no 5xx series: 0 %
        vector(m1=0.3, m2=0.25, m3=math.nan, m4=math.nan),
    )
    assert figures["m1"] == pytest.approx((0.05, 300.0))
    assert figures["m2"] == pytest.approx((0.0, 250.0))
    assert figures["m3"] == (None, None)  # no requests in the window: no value
    assert figures["m4"] == (None, None)


def analysis() -> CanaryAnalysis:
    out = CanaryAnalysis(app="hotdash-production", canary="m1", baseline=["m2", "m3"])
    for i in range(20):
        at = T0 + timedelta(seconds=15 * i)
        figures: dict[str, tuple[float | None, float | None]] = {
            "m1": (0.05, 600.0 + i),
            "m2": (0.004, 600.0),
            "m3": (None, None) if i % 2 else (0.006, 610.0),
        }
        out.samples += samples_at(
            at,
            canary="m1",
            machines=["m1", "m2", "m3"],
            figures=figures,
            health_failed={"m1": False, "m2": False, "m3": None},
        )
    return out


def test_samples_feed_the_judge_and_the_timeline() -> None:
    data = analysis()
    canary, baseline = data.for_judge()["error_rate"]
    assert len(canary) == 20 and len(baseline) == 40
    assert sum(math.isnan(v) for v in baseline) == 10
    health = data.for_judge()["health_failures"]
    assert health[0] == [0.0] * 20 and sum(math.isnan(v) for v in health[1]) == 20
    rows = data.timeline()
    assert len(rows) == 20
    assert rows[0].canary["error_rate"] == 0.05
    assert rows[0].baseline["error_rate"] == pytest.approx(0.005)  # mean of m2 and m3
    assert rows[1].baseline["error_rate"] == pytest.approx(0.004)  # m3 had no value
    assert rows[0].baseline["health_failed"] == 0.0


def test_the_chart_is_a_png_of_canary_against_baseline(tmp_path: Path) -> None:
    data = analysis()
    verdict = judge(data.for_judge(), AppDeploy().canary)
    path = render_canary_chart(data, verdict, tmp_path / "c.png", title="hotdash-production")
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="analysis: no samples to chart"):
        render_canary_chart(
            CanaryAnalysis(app="a", canary="m1", baseline=[]), verdict, tmp_path / "e.png", title=""
        )


def test_rounds_of_an_analysis() -> None:
    assert sample_rounds(10, 15) == 40
    assert sample_rounds(0.01, 0.05) == 12  # not 13 from floating point
    assert sample_rounds(0.001, 15) == 1
    with pytest.raises(ValueError, match="analysis_minutes: must be positive"):
        sample_rounds(0, 15)
    with pytest.raises(ValueError, match="HOTDASH_CANARY_SAMPLE_SECONDS: must be positive"):
        sample_rounds(1, 0)
