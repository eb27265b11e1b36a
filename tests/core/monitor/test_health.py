"""Reports name the one rule engine's outcomes (hotdash_ops.monitor.health): one fact, one
verdict, whichever check reads it; dependencies are judged by the same engine."""

from __future__ import annotations

from typing import Any

import pytest

from hotdash_ops.inventory import AppSpec, Dependency
from hotdash_ops.models import Machine
from hotdash_ops.monitor.alert_rules import (
    Outcome,
    RuleName,
    Severity,
    collect_figures,
    evaluate_app,
    evaluate_dependency,
)
from hotdash_ops.monitor.health import Verdict, app_verdict, overall, verdict_of, worst
from hotdash_ops.monitor.health_report import HealthReport
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.monitor.probe import ProbeResult

WEB = AppSpec(name="web-app", role="web", thresholds={})
BG = AppSpec(name="bg-app", role="background", thresholds={})
SUPABASE = Dependency(
    name="supabase", url="https://x.supabase.co/rest/v1/", expected_status=[200, 204]
)


def machine(state: str = "started", checks: list[str] | None = None, region: str = "iad"):
    return Machine.model_validate(
        {
            "id": "abc123def456",
            "state": state,
            "region": region,
            "checks": [{"name": f"c{i}", "status": s} for i, s in enumerate(checks or [])],
        }
    )


def judged(spec: AppSpec = WEB, **kw: Any):
    """The monitor's engine on one app, as the morning check, the manual check and the
    monitor all call it."""
    args: dict[str, Any] = dict(
        machines=[machine(checks=["passing"])],
        health=ProbeResult(url="u", expected_status=200, status=200, latency_ms=50),
        metrics=AppMetrics(
            app=spec.name, cpu_pct=20, mem_pct=30, p95_ms=300, error_rate=0.0, rps=5
        ),
    )
    args.update(kw)
    return evaluate_app(spec, collect_figures(spec, **args))


def test_all_good_is_ok_and_regions_are_counted() -> None:
    e = judged(machines=[machine(region="iad"), machine(region="ord"), machine(region="ord")])
    assert app_verdict(e) == Verdict.OK
    assert e.figures.machines_by_region == {"iad": 1, "ord": 2}


def test_no_traffic_is_neither_healthy_nor_unknown() -> None:
    e = judged(metrics=AppMetrics(app="web-app", cpu_pct=20, mem_pct=30, no_traffic=True))
    assert app_verdict(e) == Verdict.NO_TRAFFIC
    rate = e.verdict(RuleName.ERROR_RATE)
    assert verdict_of(rate) == Verdict.NO_TRAFFIC
    assert rate.detail == "error_rate: no traffic in the window (no requests)"
    report = HealthReport(specs=[WEB], evaluations=[e], dependencies=[])
    assert report.verdict == Verdict.NO_TRAFFIC
    assert report.summary() == (
        "0 of 1 app and 0 dependencies healthy, 1 with no traffic (web-app)"
    )


def test_health_that_does_not_answer_is_one_verdict_failing() -> None:
    # Formerly "unknown" in the morning check and critical in the monitor: now one verdict.
    no_answer = ProbeResult(url="u", expected_status=200, error="ConnectError: refused")
    e = judged(health=no_answer)
    health = e.verdict(RuleName.HEALTH)
    assert (health.outcome, health.severity) == (Outcome.FAIL, Severity.CRITICAL)
    assert verdict_of(health) == Verdict.FAIL == app_verdict(e)
    assert health.detail == "health: /health did not answer (ConnectError: refused)"


@pytest.mark.parametrize(
    ("change", "rule", "verdict"),
    [
        ({"machines": "FlyUnavailable: 503"}, RuleName.MACHINES, Verdict.UNKNOWN),
        ({"machines": []}, RuleName.MACHINES, Verdict.FAIL),
        ({"machines": [machine("stopped")]}, RuleName.MACHINES, Verdict.FAIL),
        ({"machines": [machine(checks=["warning"])]}, RuleName.MACHINES, Verdict.WARN),
        (
            {"health": ProbeResult(url="u", expected_status=200, status=503)},
            RuleName.HEALTH,
            Verdict.FAIL,
        ),  # fmt: skip
        ({"metrics": None}, RuleName.CPU, Verdict.UNKNOWN),
        (
            {
                "metrics": AppMetrics(
                    app="web-app", cpu_pct=81, mem_pct=30, p95_ms=300, error_rate=0, rps=1
                )
            },
            RuleName.CPU,
            Verdict.WARN,
        ),  # fmt: skip
        (
            {
                "metrics": AppMetrics(
                    app="web-app", cpu_pct=20, mem_pct=30, p95_ms=300, error_rate=0.06, rps=1
                )
            },
            RuleName.ERROR_RATE,
            Verdict.FAIL,
        ),  # fmt: skip
    ],
)
def test_rule_outcomes_are_named_for_reports(
    change: dict[str, Any], rule: RuleName, verdict: Verdict
) -> None:
    e = judged(**change)
    assert verdict_of(e.verdict(rule)) == verdict
    assert app_verdict(e) == verdict


def test_background_app_may_be_all_stopped() -> None:
    e = judged(
        BG,
        machines=[machine("stopped")],
        metrics=AppMetrics(app="bg-app", cpu_pct=1, mem_pct=30, p95_ms=None, rps=0.0),
        health=ProbeResult(url="u", expected_status=200, status=200, latency_ms=300),
    )
    assert verdict_of(e.verdict(RuleName.MACHINES)) == Verdict.OK


def test_dependency_rule() -> None:
    ok = evaluate_dependency(SUPABASE, ProbeResult(url="u", expected_status=200, status=204))
    assert (ok.outcome, ok.app, ok.rule) == (Outcome.PASS, "supabase", RuleName.DEPENDENCY)
    refused = evaluate_dependency(SUPABASE, ProbeResult(url="u", expected_status=200, status=401))
    assert refused.outcome == Outcome.FAIL and refused.severity == Severity.CRITICAL
    assert refused.detail == "supabase: answered 401 (expected 200/204)"
    down = evaluate_dependency(SUPABASE, ProbeResult(url="u", expected_status=200, error="dns"))
    assert down.outcome == Outcome.FAIL and down.detail == "supabase: did not answer (dns)"
    unset = evaluate_dependency(SUPABASE, None, not_checked="neither SUPABASE_ANON_KEY is set")
    assert unset.outcome == Outcome.NO_DATA and verdict_of(unset) == Verdict.UNKNOWN
    assert unset.detail == "supabase: not checked (neither SUPABASE_ANON_KEY is set)"


def test_overall_is_the_worst_and_nothing_checked_is_unknown() -> None:
    ok_dep = evaluate_dependency(SUPABASE, ProbeResult(url="u", expected_status=200, status=200))
    bad_dep = evaluate_dependency(SUPABASE, ProbeResult(url="u", expected_status=200, status=500))
    assert overall([judged()], [ok_dep]) == Verdict.OK
    assert overall([judged()], [bad_dep]) == Verdict.FAIL
    assert overall([judged(metrics=None)], [ok_dep]) == Verdict.UNKNOWN
    assert overall([], []) == Verdict.UNKNOWN
    assert worst([Verdict.WARN, Verdict.UNKNOWN, Verdict.OK]) == Verdict.UNKNOWN
    assert worst([Verdict.UNKNOWN, Verdict.FAIL]) == Verdict.FAIL


def test_an_auto_stopped_background_app_is_ok_from_its_machines_without_a_probe() -> None:
    stopped = Machine.model_validate(
        {"id": "m1", "state": "stopped", "region": "ord",
         "checks": [{"name": "servicecheck-00-http-8080", "status": "warning"}],
         "config": {"services": [{"internal_port": 8080, "autostart": True}]}}
    )  # fmt: skip
    e = judged(
        BG,
        machines=[stopped],
        health=ProbeResult(url="http://x/health", expected_status=200, skipped="auto-stopped"),
        metrics=AppMetrics(app="bg-app", p95_ms=300, error_rate=0.0, rps=5),
    )
    assert e.verdict(RuleName.MACHINES).detail == "machines: 1 stopped"  # stale checks ignored
    health = e.verdict(RuleName.HEALTH)  # not requested: it would start a machine
    assert verdict_of(health) == Verdict.OK
    assert health.detail == "health: /health not requested: auto-stopped"
    assert e.verdict(RuleName.CPU).detail == "cpu: no machine is started (no instance series)"
    assert app_verdict(e) == Verdict.OK
