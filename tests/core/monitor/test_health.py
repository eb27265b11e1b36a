"""The Morning Health Check's rules; missing data is UNKNOWN, never OK."""

from __future__ import annotations

from typing import Any

import pytest

from hotdash_ops.inventory import AppSpec, Dependency
from hotdash_ops.models import Machine
from hotdash_ops.monitor.health import (
    AppHealth,
    Finding,
    Verdict,
    assess_app,
    assess_dependency,
    overall,
)
from hotdash_ops.monitor.health_report import HealthReport
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.monitor.probe import ProbeResult

WEB = AppSpec(name="web-app", role="web", thresholds={})
BG = AppSpec(name="bg-app", role="background", thresholds={})


def machine(
    state: str = "started", checks: list[str] | None = None, region: str = "iad"
) -> Machine:
    return Machine.model_validate(
        {
            "id": "abc123def456",
            "state": state,
            "region": region,
            "checks": [{"name": f"c{i}", "status": s} for i, s in enumerate(checks or [])],
        }
    )


def healthy_probe(**kw: Any) -> ProbeResult:
    return ProbeResult(
        url="https://web-app.fly.dev/health", expected_status=200, status=200, latency_ms=50, **kw
    )


def good_metrics(**kw: Any) -> AppMetrics:
    base: dict[str, Any] = dict(
        app="web-app", cpu_pct=20, mem_pct=30, p95_ms=300, error_rate=0.0, rps=5
    )
    return AppMetrics.model_validate({**base, **kw})


def assess(spec: AppSpec = WEB, **kw: Any) -> AppHealth:
    args: dict[str, Any] = dict(
        machines=[machine(checks=["passing"])],
        machines_error=None,
        health=healthy_probe(),
        metrics=good_metrics(),
        metrics_error=None,
    )
    args.update(kw)
    return assess_app(spec, **args)


def find(h: AppHealth, check: str) -> Finding:
    return next(f for f in h.findings if f.check == check)


def test_all_good_is_ok() -> None:
    h = assess()
    assert h.verdict == Verdict.OK and h.problems == []
    assert h.machines_by_state == {"started": 1} and h.machines_by_region == {"iad": 1}
    assert h.machine_checks == {"passing": 1, "warning": 0, "critical": 0}


def test_machines_unreadable_is_unknown() -> None:
    h = assess(machines=None, machines_error="HTTP 503")
    f = find(h, "machines")
    assert f.verdict == Verdict.UNKNOWN and f.detail == "machines: could not read (HTTP 503)"
    assert h.verdict == Verdict.UNKNOWN


def test_zero_machines_fails() -> None:
    assert find(assess(machines=[]), "machines").verdict == Verdict.FAIL


def test_web_without_started_machine_fails_background_may_idle() -> None:
    stopped = [machine("stopped"), machine("suspended")]
    assert find(assess(machines=stopped), "machines").verdict == Verdict.FAIL
    bg = assess(BG, machines=stopped, metrics=good_metrics(app="bg-app"))
    assert find(bg, "machines").verdict == Verdict.OK


def test_machine_checks() -> None:
    assert find(assess(machines=[machine(checks=["critical"])]), "machine_checks").verdict == (
        Verdict.FAIL
    )
    assert find(assess(machines=[machine(checks=["warning"])]), "machine_checks").verdict == (
        Verdict.WARN
    )


def test_health_probe_rules() -> None:
    assert find(assess(health=None), "health").verdict == Verdict.UNKNOWN
    no_answer = ProbeResult(url="u", expected_status=200, error="ConnectError")
    assert find(assess(health=no_answer), "health").verdict == Verdict.UNKNOWN
    wrong = ProbeResult(url="u", expected_status=200, status=503, latency_ms=10)
    f = find(assess(health=wrong), "health")
    assert f.verdict == Verdict.FAIL and "503" in f.detail
    slow = ProbeResult(url="u", expected_status=200, status=200, latency_ms=2500)
    assert find(assess(health=slow), "health").verdict == Verdict.WARN


@pytest.mark.parametrize("figure", ["cpu_pct", "mem_pct", "p95_ms", "error_rate"])
def test_missing_metric_is_unknown_never_ok(figure: str) -> None:
    h = assess(metrics=good_metrics(**{figure: None}))
    assert h.verdict == Verdict.UNKNOWN
    assert any(f.verdict == Verdict.UNKNOWN and "no data" in f.detail for f in h.findings)


def test_metrics_unreadable_is_unknown() -> None:
    h = assess(metrics=None, metrics_error="prometheus down")
    f = find(h, "metrics")
    assert f.verdict == Verdict.UNKNOWN and "prometheus down" in f.detail


def test_no_traffic_is_neither_healthy_nor_unknown() -> None:
    h = assess(metrics=good_metrics(rps=None, p95_ms=None, error_rate=None, no_traffic=True))
    assert h.verdict == Verdict.NO_TRAFFIC
    assert find(h, "error_rate").detail == "error_rate: no traffic in the window"
    report = HealthReport(apps=[h], dependencies=[])
    assert report.verdict == Verdict.NO_TRAFFIC
    assert report.summary() == (
        "0 of 1 apps and 0 dependencies healthy, 1 with no traffic (web-app)"
    )


@pytest.mark.parametrize(
    ("change", "check", "verdict"),
    [
        ({"cpu_pct": 81}, "cpu", Verdict.WARN),
        ({"cpu_pct": 80}, "cpu", Verdict.OK),
        ({"mem_pct": 86}, "memory", Verdict.WARN),
        ({"p95_ms": 2100}, "p95", Verdict.WARN),
        ({"error_rate": 0.02}, "error_rate", Verdict.WARN),
        ({"error_rate": 0.06}, "error_rate", Verdict.FAIL),
        ({"error_rate": 0.005}, "error_rate", Verdict.OK),
    ],
)
def test_metric_thresholds(change: dict[str, float], check: str, verdict: Verdict) -> None:
    assert find(assess(metrics=good_metrics(**change)), check).verdict == verdict


def test_background_thresholds_are_higher() -> None:
    h = assess(BG, metrics=good_metrics(app="bg-app", cpu_pct=85))
    assert find(h, "cpu").verdict == Verdict.OK


def test_verdict_order_fail_over_unknown_over_warn() -> None:
    h = assess(machines=None, machines_error="x", metrics=good_metrics(cpu_pct=99))
    assert h.verdict == Verdict.UNKNOWN
    h2 = assess(machines=[], metrics=None, metrics_error="x")
    assert h2.verdict == Verdict.FAIL


def test_dependency_and_overall() -> None:
    dep = Dependency(name="supabase", url="https://x.supabase.co/rest/v1/", expected_status=[200])
    ok = assess_dependency(dep, ProbeResult(url=dep.url, expected_status=200, status=200))
    bad = assess_dependency(dep, ProbeResult(url=dep.url, expected_status=200, status=500))
    unk = assess_dependency(dep, ProbeResult(url=dep.url, expected_status=200, error="dns"))
    assert (ok.verdict, bad.verdict, unk.verdict) == (Verdict.OK, Verdict.FAIL, Verdict.UNKNOWN)
    assert overall([assess()], [ok]) == Verdict.OK
    assert overall([assess()], [bad]) == Verdict.FAIL
    assert overall([assess()], [unk]) == Verdict.UNKNOWN
    assert overall([], []) == Verdict.UNKNOWN


def test_an_auto_stopped_background_app_is_ok_from_its_machines_without_a_probe() -> None:
    stopped = Machine.model_validate(
        {"id": "m1", "state": "stopped", "region": "ord",
         "checks": [{"name": "servicecheck-00-http-8080", "status": "warning"}],
         "config": {"services": [{"internal_port": 8080, "autostart": True}]}}
    )  # fmt: skip
    h = assess(
        BG,
        machines=[stopped],
        health=ProbeResult(url="http://x/health", expected_status=200, skipped="auto-stopped"),
        metrics=good_metrics(app="bg-app", cpu_pct=None, mem_pct=None),
    )
    assert find(h, "machines").detail == "machines: all idle, auto-stop (1 stopped)"
    assert find(h, "health").verdict == Verdict.OK  # not requested: it would start a machine
    assert find(h, "cpu").detail == "cpu: no machine is started"
    assert not [f for f in h.findings if f.check == "machine_checks"]  # stale checks ignored
    assert h.verdict == Verdict.OK
