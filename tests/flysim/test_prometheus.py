"""Prometheus query API: per app, fleet-wide, range queries, no data."""

from __future__ import annotations

import time
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
    start = int(time.time()) - 600
    form = {"query": p95('app="hotdash-production"'), "start": str(start),
            "end": str(start + 600), "step": "1m"}  # fmt: skip
    body = sim.api.post("/prometheus/personal/api/v1/query_range", data=form).json()
    assert body["data"]["resultType"] == "matrix"
    (series,) = body["data"]["result"]
    assert series["metric"] == {"app": "hotdash-production"}
    assert [v[0] for v in series["values"]] == [start + 60 * i for i in range(11)]
    assert {v[1] for v in series["values"]} == {"0.61"}
    bad = sim.api.get("/prometheus/personal/api/v1/query_range", params={"query": rps()})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"


def test_no_data_and_unknown_queries(sim: Sim) -> None:
    sim.ctl.patch("/_sim/apps/hotdash-staging", json={"metrics": {"cpu_pct": None}})
    assert "hotdash-staging" not in instant(sim, cpu())
    assert instant(sim, "fly_volume_used_pct") == {}
    wrong_org = sim.api.get("/prometheus/other/api/v1/query", params={"query": rps()})
    assert wrong_org.status_code == 404


def five_xx(sel: str = "") -> str:
    return f"sum by (app) (rate(fly_edge_http_responses_count{_m(sel, FIVE_XX)}[5m]))"


def test_an_app_without_5xx_has_no_5xx_series_so_the_ratio_has_no_value(sim: Sim) -> None:
    """hotdash-agent-service has traffic and error_rate 0: no 5xx counter series exists, so
    the 5xx rate and the PromQL ratio have no series for it, while its request rate does."""
    assert "hotdash-agent-service" in instant(sim, rps())
    assert "hotdash-agent-service" not in instant(sim, five_xx())
    assert "hotdash-agent-service" not in instant(sim, errors())
    assert instant(sim, five_xx('app="hotdash-staging"')) == {
        "hotdash-staging": pytest.approx(2.5 * 0.002)
    }


def test_an_app_without_traffic_has_no_edge_series_at_all(sim: Sim) -> None:
    sim.ctl.post("/_sim/apps", json={"name": "quiet-app", "machines": [{}],
                                     "metrics": {"cpu_pct": 3, "rps": 0}})  # fmt: skip
    for query in (rps, five_xx, errors, p95):
        assert "quiet-app" not in instant(sim, query()), query.__name__
    assert instant(sim, cpu('app="quiet-app"')) == {"quiet-app": 3.0}  # its machine runs


def test_a_counter_series_once_seen_stays_at_rate_zero(sim: Sim) -> None:
    agent = 'app="hotdash-agent-service"'
    sim.ctl.patch("/_sim/apps/hotdash-agent-service", json={"metrics": {"error_rate": 0.5}})
    assert instant(sim, five_xx(agent)) == {"hotdash-agent-service": pytest.approx(0.2)}
    sim.ctl.patch("/_sim/apps/hotdash-agent-service", json={"metrics": {"error_rate": 0.0}})
    assert instant(sim, five_xx(agent)) == {"hotdash-agent-service": 0.0}
    assert instant(sim, errors(agent)) == {"hotdash-agent-service": 0.0}
    # ...and a range query only has points from when the series appeared.
    end = int(time.time()) + 1
    form = {"query": five_xx(agent), "start": str(end - 600), "end": str(end), "step": "60"}
    (series,) = sim.api.post("/prometheus/personal/api/v1/query_range", data=form).json()["data"][
        "result"
    ]
    assert [v[0] for v in series["values"]] == [end]


def test_machines_that_are_not_started_have_no_instance_series(sim: Sim) -> None:
    mid = sim.api.get("/v1/apps/hotdash-agent-service/machines").json()[0]["id"]
    sim.api.post(f"/v1/apps/hotdash-agent-service/machines/{mid}/stop")
    assert "hotdash-agent-service" not in instant(sim, cpu())
    assert "hotdash-agent-service" not in instant(sim, mem())
    assert "hotdash-agent-service" in instant(sim, rps())  # the edge counters stay


def test_error_budget_queries_count_over_their_window_and_share_slow_minutes(sim: Sim) -> None:
    """`increase()` over a window counts rate x window, only from when the series exists (the
    scenario's traffic goes back a day); the subquery share of minutes with p95 above a
    threshold is 0 or 1 (flysim's p95 is steady)."""
    prod = 'app="hotdash-production"'  # 18 req/s, 0.4 % 5xx, p95 610 ms
    hour = instant(sim, f"sum by (app) (increase(fly_edge_http_responses_count{{{prod}}}[1h]))")
    assert hour == {"hotdash-production": pytest.approx(18 * 3600, rel=0.01)}
    month = instant(sim, f"sum by (app) (increase(fly_edge_http_responses_count{{{prod}}}[30d]))")
    assert month["hotdash-production"] == pytest.approx(18 * 86400, rel=0.01)
    errors = instant(
        sim, f'sum by (app) (increase(fly_edge_http_responses_count{{{prod},status=~"5.."}}[1h]))'
    )
    assert errors["hotdash-production"] == pytest.approx(18 * 0.004 * 3600, rel=0.01)

    def slow(seconds: float) -> dict[str, float]:
        return instant(
            sim,
            "avg_over_time((histogram_quantile(0.95, sum by (app, le) "
            f"(rate(fly_edge_http_response_time_seconds_bucket{{{prod}}}[1m]))) > bool {seconds})"
            "[6h:1m])",
        )

    assert slow(1) == {"hotdash-production": 0.0}
    assert slow(0.5) == {"hotdash-production": 1.0}
