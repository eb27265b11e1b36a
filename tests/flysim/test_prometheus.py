"""Prometheus query API: per app, fleet-wide, range queries, no data."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.flysim.conftest import Sim


def _m(sel: str, first: str = "") -> str:
    """A label-matcher block: ``{first,sel}``."""
    inner = ",".join(x for x in (first, sel) if x)
    return f"{{{inner}}}" if inner else ""


NOT_IDLE = 'mode!="idle"'
FIVE_XX = 'status=~"5.."'


def cpu(sel: str = "") -> str:
    busy = _m(sel, NOT_IDLE)
    return (
        f"100 * avg by (app) (sum by (app, instance) (rate(fly_instance_cpu{busy}[5m]))"
        f" / sum by (app, instance) (rate(fly_instance_cpu{_m(sel)}[5m])))"
    )


def mem(sel: str = "") -> str:
    return (
        f"100 * avg by (app) ((fly_instance_memory_mem_total{_m(sel)} - "
        f"fly_instance_memory_mem_available{_m(sel)}) / fly_instance_memory_mem_total{_m(sel)})"
    )


def p95(sel: str = "") -> str:
    return (
        "histogram_quantile(0.95, sum by (app, le) "
        f"(rate(fly_edge_http_response_time_seconds_bucket{_m(sel)}[5m])))"
    )


def errors(sel: str = "") -> str:
    return (
        f"sum by (app) (rate(fly_edge_http_responses_count{_m(sel, FIVE_XX)}[5m]))"
        f" / sum by (app) (rate(fly_edge_http_responses_count{_m(sel)}[5m]))"
    )


def rps(sel: str = "") -> str:
    return f"sum by (app) (rate(fly_edge_http_responses_count{_m(sel)}[5m]))"


def instant(sim: Sim, query: str) -> dict[str, float]:
    body = sim.api.get("/prometheus/personal/api/v1/query", params={"query": query}).json()
    assert body["status"] == "success" and body["data"]["resultType"] == "vector"
    return {s["metric"]["app"]: float(s["value"][1]) for s in body["data"]["result"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [(cpu, 18.0), (mem, 52.0), (p95, 0.34), (errors, 0.002), (rps, 2.5)],
)
def test_figures_per_app(sim: Sim, query: Callable[[str], str], expected: float) -> None:
    got = instant(sim, query('app="hotdash-staging"'))
    assert got == {"hotdash-staging": pytest.approx(expected)}


def test_fleet_in_one_query_and_regex(sim: Sim) -> None:
    fleet = instant(sim, cpu())
    assert len(fleet) == 5 and fleet["hotdash-production"] == 41.0
    some = instant(sim, rps('app=~"hotdash-(staging|production)"'))
    assert set(some) == {"hotdash-staging", "hotdash-production"}


def test_post_form_and_range(sim: Sim) -> None:
    form = {"query": p95('app="hotdash-production"'), "start": "1000", "end": "1600", "step": "1m"}
    body = sim.api.post("/prometheus/personal/api/v1/query_range", data=form).json()
    assert body["data"]["resultType"] == "matrix"
    (series,) = body["data"]["result"]
    assert series["metric"] == {"app": "hotdash-production"}
    assert [v[0] for v in series["values"]] == [1000 + 60 * i for i in range(11)]
    assert {v[1] for v in series["values"]} == {"0.61"}
    bad = sim.api.get("/prometheus/personal/api/v1/query_range", params={"query": rps()})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"


def test_no_data_and_unknown_queries(sim: Sim) -> None:
    sim.ctl.patch("/_sim/apps/hotdash-staging", json={"metrics": {"cpu_pct": None}})
    assert "hotdash-staging" not in instant(sim, cpu())
    assert instant(sim, "fly_volume_used_pct") == {}
    wrong_org = sim.api.get("/prometheus/other/api/v1/query", params={"query": rps()})
    assert wrong_org.status_code == 404
