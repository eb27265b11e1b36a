"""The monitor's rules per role, on the figures of one run (hotdash_ops.monitor.alert_rules)."""

from __future__ import annotations

import pytest

from hotdash_ops.inventory import AppSpec
from hotdash_ops.models import Machine
from hotdash_ops.monitor.alert_rules import (
    APP_RULES,
    MonitorFigures,
    Outcome,
    RuleName,
    Severity,
    collect_figures,
    evaluate_app,
    evaluate_fleet,
    summarise,
)
from hotdash_ops.monitor.health import dependency_row, table_row
from hotdash_ops.monitor.metrics import AppMetrics, FleetMetrics
from hotdash_ops.monitor.probe import ProbeResult

WEB = AppSpec.model_validate({"name": "web-app", "role": "web"})
BACKGROUND = AppSpec.model_validate({"name": "worker-app", "role": "background"})
HEALTHY = {"cpu_pct": 20.0, "mem_pct": 40.0, "p95_ms": 300.0, "error_rate": 0.001, "rps": 3.0}


def figures(spec: AppSpec = WEB, **changes: object) -> MonitorFigures:
    base: dict[str, object] = {
        "app": spec.name,
        "role": spec.role,
        "machines_by_state": {"started": 1},
        "machine_checks": {"passing": 1, "warning": 0, "critical": 0},
        "health_status": 200,
        "health_latency_ms": 40.0,
        **HEALTHY,
    }
    base.update(changes)
    return MonitorFigures.model_validate(base)


def verdict(spec: AppSpec, fig: MonitorFigures, rule: RuleName):
    return evaluate_app(spec, fig).verdict(rule)


def test_healthy_web_app_passes_every_rule() -> None:
    result = evaluate_app(WEB, figures())
    assert [v.rule for v in result.verdicts] == list(APP_RULES)
    assert all(v.outcome == Outcome.PASS for v in result.verdicts), result.verdicts


@pytest.mark.parametrize(
    ("spec", "rule", "figure", "passing", "failing"),
    [
        (WEB, RuleName.CPU, "cpu_pct", 80.0, 80.1),
        (WEB, RuleName.MEMORY, "mem_pct", 85.0, 85.1),
        (WEB, RuleName.RESPONSE_TIME, "p95_ms", 2000.0, 2001.0),
        (BACKGROUND, RuleName.CPU, "cpu_pct", 90.0, 90.1),
        (BACKGROUND, RuleName.MEMORY, "mem_pct", 90.0, 90.1),
        (BACKGROUND, RuleName.RESPONSE_TIME, "p95_ms", 5000.0, 5001.0),
    ],
)
def test_role_thresholds_fail_strictly_above_the_limit(
    spec: AppSpec, rule: RuleName, figure: str, passing: float, failing: float
) -> None:
    assert verdict(spec, figures(spec, **{figure: passing}), rule).outcome == Outcome.PASS
    failed = verdict(spec, figures(spec, **{figure: failing}), rule)
    assert failed.outcome == Outcome.FAIL
    assert failed.severity == Severity.WARNING
    assert failed.value == failing


def test_cpu_verdict_names_figure_and_limit() -> None:
    v = verdict(WEB, figures(cpu_pct=92.5), RuleName.CPU)
    assert v.detail == "cpu: 92.5 % > 80 %"
    assert v.limit == 80.0


def test_background_app_tolerates_what_fails_a_web_app() -> None:
    fig_web = figures(WEB, cpu_pct=85.0, mem_pct=88.0, p95_ms=3000.0)
    fig_bg = figures(BACKGROUND, cpu_pct=85.0, mem_pct=88.0, p95_ms=3000.0)
    web = evaluate_app(WEB, fig_web)
    bg = evaluate_app(BACKGROUND, fig_bg)
    for rule in (RuleName.CPU, RuleName.MEMORY, RuleName.RESPONSE_TIME):
        assert web.verdict(rule).outcome == Outcome.FAIL
        assert bg.verdict(rule).outcome == Outcome.PASS


@pytest.mark.parametrize(
    ("rate", "outcome", "severity"),
    [
        (0.01, Outcome.PASS, Severity.WARNING),
        (0.011, Outcome.FAIL, Severity.WARNING),
        (0.05, Outcome.FAIL, Severity.WARNING),
        (0.051, Outcome.FAIL, Severity.CRITICAL),
    ],
)
def test_5xx_ratio_warns_over_1_and_is_critical_over_5_percent(
    rate: float, outcome: Outcome, severity: Severity
) -> None:
    v = verdict(WEB, figures(error_rate=rate), RuleName.ERROR_RATE)
    assert (v.outcome, v.severity) == (outcome, severity)


def test_health_failure_is_critical_and_names_the_status() -> None:
    v = verdict(WEB, figures(health_status=503), RuleName.HEALTH)
    assert (v.outcome, v.severity) == (Outcome.FAIL, Severity.CRITICAL)
    assert "answered 503 (expected 200)" in v.detail


def test_health_with_no_answer_is_a_failure_not_no_data() -> None:
    v = verdict(
        WEB, figures(health_status=None, health_error="timed out after 10 s"), RuleName.HEALTH
    )
    assert v.outcome == Outcome.FAIL
    assert "did not answer (timed out after 10 s)" in v.detail


def test_slow_health_answer_fails_response_time_even_with_good_p95() -> None:
    v = verdict(WEB, figures(health_latency_ms=2500.0), RuleName.RESPONSE_TIME)
    assert v.outcome == Outcome.FAIL
    assert "/health took 2500 ms > 2000 ms" in v.detail


@pytest.mark.parametrize("figure", ["cpu_pct", "mem_pct", "p95_ms", "error_rate"])
def test_missing_metric_is_no_data_never_a_pass(figure: str) -> None:
    result = evaluate_app(WEB, figures(**{figure: None}))
    missing = [v for v in result.verdicts if v.outcome == Outcome.NO_DATA]
    assert len(missing) == 1
    assert "no data" in missing[0].detail
    assert "no series" in missing[0].detail


def test_failed_query_reason_is_in_the_no_data_verdict() -> None:
    fig = figures(cpu_pct=None, metrics_errors={"cpu_pct": "FlyUnavailable: 503"})
    v = verdict(WEB, fig, RuleName.CPU)
    assert v.outcome == Outcome.NO_DATA
    assert "query failed: FlyUnavailable: 503" in v.detail


def test_everything_missing_is_no_data_for_every_metric_rule() -> None:
    fig = figures(cpu_pct=None, mem_pct=None, p95_ms=None, error_rate=None, rps=None)
    result = evaluate_app(WEB, fig)
    for rule in (RuleName.CPU, RuleName.MEMORY, RuleName.RESPONSE_TIME, RuleName.ERROR_RATE):
        assert result.verdict(rule).outcome == Outcome.NO_DATA, rule
    assert result.verdict(RuleName.HEALTH).outcome == Outcome.PASS


def test_no_traffic_is_its_own_verdict_never_an_alert_and_latency_is_judged_by_health() -> None:
    fig = figures(
        BACKGROUND, p95_ms=None, error_rate=None, rps=None, no_traffic=True,
        health_latency_ms=120.0,
    )  # fmt: skip
    result = evaluate_app(BACKGROUND, fig)
    error_rate = result.verdict(RuleName.ERROR_RATE)
    assert (error_rate.outcome, error_rate.cell()) == (Outcome.NO_TRAFFIC, "no traffic")
    assert error_rate.detail == "error_rate: no traffic in the window (no requests)"
    assert not error_rate.outcome.alerting
    assert result.verdict(RuleName.RESPONSE_TIME).outcome == Outcome.PASS
    assert "no requests" in result.verdict(RuleName.RESPONSE_TIME).detail
    assert "1 with no traffic (worker-app)" in summarise([result])
    assert summarise([result]).startswith("1 app: 0 ok")  # never counted as ok
    # Only a failed query is "no data".
    failed = fig.model_copy(update={"metrics_errors": {"error_rate": "HTTP 503"}})
    assert evaluate_app(BACKGROUND, failed).verdict(RuleName.ERROR_RATE).outcome == (
        Outcome.NO_DATA
    )
    slow = evaluate_app(BACKGROUND, fig.model_copy(update={"health_latency_ms": 6000.0}))
    assert slow.verdict(RuleName.RESPONSE_TIME).outcome == Outcome.FAIL


def test_machines_rule_per_role() -> None:
    all_stopped = {
        "machines_by_state": {"stopped": 2},
        "machine_checks": {"passing": 0, "warning": 0, "critical": 0},
    }
    web = verdict(WEB, figures(WEB, **all_stopped), RuleName.MACHINES)
    assert (web.outcome, web.severity) == (Outcome.FAIL, Severity.CRITICAL)
    assert "no started machine (2 stopped)" in web.detail
    bg = verdict(BACKGROUND, figures(BACKGROUND, **all_stopped), RuleName.MACHINES)
    assert bg.outcome == Outcome.PASS
    none = verdict(WEB, figures(machines_by_state={}), RuleName.MACHINES)
    assert none.detail == "machines: none exist"
    unread = verdict(
        WEB, figures(machines_by_state=None, machines_error="FlyUnavailable"), RuleName.MACHINES
    )
    assert unread.outcome == Outcome.NO_DATA


def test_machine_checks_of_started_machines_count_stopped_do_not() -> None:
    def machine(state: str, check: str) -> Machine:
        return Machine.model_validate(
            {"id": f"m{state}{check}", "state": state, "region": "ord",
             "checks": [{"name": "servicecheck-00-http", "status": check}]}
        )  # fmt: skip

    probe = ProbeResult(url="u", expected_status=200, status=200, latency_ms=10.0)
    metrics = AppMetrics(app=BACKGROUND.name, **HEALTHY)
    stopped = collect_figures(
        BACKGROUND, machines=[machine("stopped", "warning")], health=probe, metrics=metrics
    )
    assert verdict(BACKGROUND, stopped, RuleName.MACHINES).outcome == Outcome.PASS
    critical = collect_figures(
        WEB,
        machines=[machine("started", "critical"), machine("started", "passing")],
        health=probe,
        metrics=metrics,
    )
    v = verdict(WEB, critical, RuleName.MACHINES)
    assert (v.outcome, v.severity) == (Outcome.FAIL, Severity.CRITICAL)
    assert "1 check(s) critical" in v.detail
    warning = collect_figures(
        WEB, machines=[machine("started", "warning")], health=probe, metrics=metrics
    )
    w = verdict(WEB, warning, RuleName.MACHINES)
    assert (w.outcome, w.severity) == (Outcome.FAIL, Severity.WARNING)


def test_unreadable_fleet_reads_become_no_data() -> None:
    fleet = FleetMetrics(
        by_app={WEB.name: AppMetrics(app=WEB.name)},
        errors={f: "FlyUnavailable: timed out" for f in HEALTHY},
    )
    [result] = evaluate_fleet(
        [WEB], machines={WEB.name: "FlyUnavailable: timed out"}, health={}, metrics=fleet
    )
    outcomes = {v.rule: v.outcome for v in result.verdicts}
    assert outcomes[RuleName.MACHINES] == Outcome.NO_DATA
    assert outcomes[RuleName.CPU] == Outcome.NO_DATA
    assert outcomes[RuleName.HEALTH] == Outcome.FAIL  # the probe did not run: not healthy
    assert Outcome.PASS not in outcomes.values()


def test_table_row_has_every_figure_and_every_rule() -> None:
    result = evaluate_app(WEB, figures(cpu_pct=91.234, error_rate=0.0625))
    row = table_row(result, alerts="cpu pending")
    # What a person reads first, on the left: the app, its verdict, its alerts, its rules.
    assert list(row)[:4] == ["app", "verdict", "alerts", APP_RULES[0].value]
    assert row["verdict"] == "FAILING"
    assert row["app"] == "web-app"
    assert row["cpu %"] == 91.2
    assert row["5xx %"] == 6.25
    assert row["cpu"] == "FAIL"
    assert row["error_rate"] == "FAIL (critical)"
    assert row["health status"] == "200"
    assert row["health"] == "pass"
    assert row["alerts"] == "cpu pending"
    for rule in APP_RULES:
        assert rule.value in row
    no_data = table_row(evaluate_app(WEB, figures(mem_pct=None)))
    assert no_data["memory"] == "NO DATA" and no_data["mem %"] is None
    assert "alerts" not in no_data  # the manual check has none


def test_dependency_row_has_the_app_columns_and_its_verdict_under_health() -> None:
    from hotdash_ops.inventory import Dependency
    from hotdash_ops.monitor.alert_rules import evaluate_dependency

    dep = Dependency(name="shopify", url="https://x.myshopify.com/admin/api/2025-10/shop.json")
    refused = evaluate_dependency(dep, ProbeResult(url=dep.url, expected_status=200, status=401))
    row = dependency_row(refused, alerts="dependency pending")
    app_row = table_row(evaluate_app(WEB, figures()), alerts="")
    assert list(row) == list(app_row)  # one table, one header
    assert (row["app"], row["role"], row["health status"]) == ("shopify", "dependency", "401")
    assert row["health"] == "FAIL (critical)" and row["cpu"] == "" and row["cpu %"] is None
    assert row["alerts"] == "dependency pending" and row["verdict"] == "FAILING"


def test_summary_counts_failing_and_no_data_apps() -> None:
    ok = evaluate_app(WEB, figures())
    bad = evaluate_app(BACKGROUND, figures(BACKGROUND, cpu_pct=99.0, mem_pct=None))
    text = summarise([ok, bad])
    assert text.startswith("2 apps: 1 ok, 1 failing, 1 with no data")
    assert "worker-app: cpu" in text and "worker-app: memory" in text


def test_manual_check_verdict_counts_dependencies_and_shows_error_lines() -> None:
    from datetime import UTC, datetime

    from hotdash_ops.inventory import Dependency
    from hotdash_ops.models import LogEntry
    from hotdash_ops.monitor.alert_rules import evaluate_dependency
    from hotdash_ops.monitor.manual_check import ManualCheck, render_details

    ok = evaluate_app(WEB, figures())
    supabase = Dependency(name="supabase", url="https://x.supabase.co/rest/v1/")
    dep_ok = evaluate_dependency(
        supabase, ProbeResult(url=supabase.url, expected_status=200, status=200)
    )
    logs = {
        "web-app": [
            LogEntry(timestamp=datetime(2025, 10, 14, tzinfo=UTC), level="error", message="boom")
        ]
    }
    check = ManualCheck(
        evaluations=[ok], dependencies=[dep_ok], error_logs=logs, tz="America/Los_Angeles"
    )
    assert check.healthy
    assert check.summary().endswith("1 dependency ok")  # counted in good English
    assert check.error_cell("web-app") == "1 error line"
    details = render_details(check)
    assert details.startswith("# Manual health check: ok\n\n**ok: 1 app: 1 ok")
    assert "Nothing is wrong." in details and "(times in America/Los_Angeles)" in details
    assert "2025-10-13 17:00 PDT [error] boom" in details  # the inventory's timezone

    down = evaluate_dependency(
        supabase, ProbeResult(url=supabase.url, expected_status=200, status=503)
    )
    failing = ManualCheck(
        evaluations=[ok], dependencies=[down], error_logs={"web-app": "FlyUnavailable"}
    )
    assert not failing.healthy
    assert "dependencies: supabase: answered 503 (expected 200)" in failing.summary()
    assert failing.error_cell("web-app") == "no data (FlyUnavailable)"
    no_data = ManualCheck(evaluations=[evaluate_app(WEB, figures(cpu_pct=None))])
    assert not no_data.healthy
