"""The smoke test's verdict and table (pure), and its targets from the shipped inventory."""

from __future__ import annotations

from hotdash_ops.deploys.smoke import SmokeReport, smoke_targets
from hotdash_ops.inventory import load_inventory
from hotdash_ops.monitor.probe import ProbeResult
from tests.conftest import ROOT

BASE = "https://hotdash-staging.fly.dev"


def result(
    path: str,
    status: int | None,
    expected: int = 200,
    latency: float | None = 50.0,
    budget: float | None = None,
    error: str | None = None,
) -> ProbeResult:
    return ProbeResult(
        url=BASE + path,
        expected_status=expected,
        status=status,
        latency_ms=latency if status is not None else None,
        budget_ms=budget,
        error=error,
    )


def report(*results: ProbeResult) -> SmokeReport:
    return SmokeReport(app="hotdash-staging", image="img:1", results=list(results), base_url=BASE)


def test_all_ok_passes() -> None:
    r = report(result("/health", 200, budget=2000), result("/auth/callback", 302, expected=302))
    assert r.passed
    assert r.failures() == []
    assert r.summary() == "smoke test passed (2/2 endpoints)"


def test_wrong_status_fails_and_is_named_with_its_status() -> None:
    r = report(result("/health", 503), result("/", 200), result("/app", 500))
    assert not r.passed
    assert [r.endpoint(f) for f in r.failures()] == ["/health", "/app"]
    assert r.summary() == "smoke test failed (/health 503, /app 500)"


def test_over_budget_fails_even_with_the_right_status() -> None:
    r = report(result("/health", 200, latency=2500, budget=2000))
    assert not r.passed
    assert r.summary() == "smoke test failed (/health 2500 ms > 2000 ms)"
    assert r.table()[0]["result"] == "FAIL: over budget"


def test_could_not_check_is_a_failure_not_a_pass() -> None:
    r = report(result("/health", 200), result("/app", None, error="timed out after 10 s"))
    assert not r.passed
    assert r.summary() == "smoke test failed (/app no answer)"
    row = r.table()[1]
    assert row["status"] == "no answer"
    assert row["result"] == "FAIL: no answer (timed out after 10 s)"


def test_no_endpoints_is_not_a_pass() -> None:
    r = report()
    assert not r.passed
    assert r.summary() == "smoke test failed (no endpoints configured)"


def test_table_has_a_row_per_endpoint_with_every_column() -> None:
    r = report(
        result("/health", 200, latency=31.0, budget=2000),
        result("/auth/callback", 200, expected=302),
    )
    assert r.table() == [
        {
            "endpoint": "/health",
            "expected": 200,
            "status": 200,
            "latency ms": 31.0,
            "budget ms": 2000,
            "result": "ok",
        },
        {
            "endpoint": "/auth/callback",
            "expected": 302,
            "status": 200,
            "latency ms": 50.0,
            "budget ms": None,
            "result": "FAIL: wrong status",
        },
    ]


def test_targets_follow_the_inventory_smoke_list() -> None:
    spec = load_inventory(ROOT / "deployments/inventory.yaml").app("hotdash-staging")
    targets = smoke_targets(spec, BASE + "/")
    assert targets == [
        (BASE + "/health", 200, 2000),
        (BASE + "/", 200, None),
        (BASE + "/app", 200, None),
        (BASE + "/api/health", 200, None),
        (BASE + "/favicon.ico", 200, None),
        (BASE + "/auth/callback", 302, None),
    ]
