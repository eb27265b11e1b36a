"""Fly Proxy's per-instance series (`fly_app_http_*{instance}`) and `fly-force-instance-id`:
what a canary analysis reads. One of hotdash-production's two machines is moved to another
image through the Machines API (as the canary is), and the image's figures make it worse on
one metric only, only slightly, or give it too little traffic."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from tests.flysim.conftest import Sim

PROD = "hotdash-production"  # 2 machines; metrics p95 610 ms, 5xx 0.4 %, 18 req/s
CANARY_IMAGE = "registry.fly.io/hotdash-production:canary"
SEL = f'app="{PROD}"'
REQUESTS = f"sum by (app, instance) (rate(fly_app_http_responses_count{{{SEL}}}[1m]))"
ERRORS = f'sum by (app, instance) (rate(fly_app_http_responses_count{{{SEL},status=~"5.."}}[1m]))'
P95 = (
    "histogram_quantile(0.95, sum by (app, instance, le) "
    f"(rate(fly_app_http_response_time_seconds_bucket{{{SEL}}}[1m])))"
)


def canary(sim: Sim, **image: Any) -> tuple[str, str]:
    """Move the first machine to CANARY_IMAGE (whose overrides are `image`); (canary,
    baseline) machine ids once it is started."""
    sim.ctl.patch(f"/_sim/images/{CANARY_IMAGE}", json=image).raise_for_status()
    first, second = sim.api.get(f"/v1/apps/{PROD}/machines").json()
    config = first["config"] | {"image": CANARY_IMAGE}
    sim.api.post(f"/v1/apps/{PROD}/machines/{first['id']}", json={"config": config})
    waited = sim.api.get(
        f"/v1/apps/{PROD}/machines/{first['id']}/wait", params={"state": "started", "timeout": 5}
    )
    assert waited.json()["ok"] is True
    return first["id"], second["id"]


def over_time(
    sim: Sim, query: str, points: int = 41, start: float | None = None
) -> dict[str, list[float]]:
    """instance -> its values every 15 s for 10 minutes from `start` (a range query)."""
    start = time.time() if start is None else start
    form = {"query": query, "start": f"{start:.3f}", "end": f"{start + 600:.3f}", "step": "15"}
    body = sim.api.post("/prometheus/personal/api/v1/query_range", data=form).json()
    assert body["status"] == "success"
    out = {
        s["metric"]["instance"]: [float(v) for _, v in s["values"]] for s in body["data"]["result"]
    }
    assert all(len(v) == points for v in out.values())
    assert {s["metric"]["app"] for s in body["data"]["result"]} == {PROD}
    return out


def mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite)


def test_an_image_worse_on_one_metric_makes_only_its_machine_worse_on_that_metric(
    sim: Sim,
) -> None:
    new, old = canary(sim, metrics={"error_rate": 0.05})
    requests, errors, p95 = (over_time(sim, q) for q in (REQUESTS, ERRORS, P95))
    assert set(requests) == {new, old}
    ratio = {i: mean(errors[i]) / mean(requests[i]) for i in (new, old)}
    assert ratio[new] == pytest.approx(0.05, rel=0.15)
    assert ratio[old] == pytest.approx(0.004, rel=0.15)
    # p95 is the app's on both, within the noise (+-10 %), and varies sample to sample.
    for instance in (new, old):
        assert all(0.61 * 0.9 <= v <= 0.61 * 1.1 for v in p95[instance])
        assert len(set(p95[instance])) > 30
    # Each machine serves half of the app's 18 req/s.
    assert mean(requests[new]) == pytest.approx(9, rel=0.1)


def test_an_image_only_slightly_slower_is_slower_by_that_much(sim: Sim) -> None:
    new, old = canary(sim, metrics={"p95_ms": 640})
    p95 = over_time(sim, P95)
    assert mean(p95[new]) == pytest.approx(0.640, rel=0.03)
    assert mean(p95[old]) == pytest.approx(0.610, rel=0.03)


def test_an_image_with_little_traffic_has_many_windows_without_requests(sim: Sim) -> None:
    # rps 0.005 for the app were it all on this image: 0.0025 req/s for the canary machine,
    # 0.15 requests a minute, so most one-minute windows have none (p95 NaN, rate 0).
    new, old = canary(sim, metrics={"rps": 0.005})
    start = time.time()  # the same windows for both queries
    p95, requests = over_time(sim, P95, start=start), over_time(sim, REQUESTS, start=start)
    with_traffic = [v for v in p95[new] if math.isfinite(v)]
    assert len(with_traffic) < 15
    assert requests[new].count(0.0) == 41 - len(with_traffic)
    assert all(math.isfinite(v) for v in p95[old])


def test_samples_are_reproducible_per_instance_and_time_and_a_machine_without_5xx_has_no_series(
    sim: Sim,
) -> None:
    new, old = canary(sim, metrics={"error_rate": 0.0})
    at = f"{time.time():.3f}"
    answers = [
        sim.api.get("/prometheus/personal/api/v1/query", params={"query": P95, "time": at}).json()
        for _ in range(2)
    ]
    assert answers[0] == answers[1]
    errors = sim.api.get("/prometheus/personal/api/v1/query", params={"query": ERRORS}).json()
    assert [s["metric"]["instance"] for s in errors["data"]["result"]] == [old]


def test_fly_force_instance_id_sends_a_request_to_that_machine_only(sim: Sim) -> None:
    new, old = canary(sim, endpoints={"/health": {"status": 503}})
    for _ in range(3):
        forced = sim.ctl.get(f"/_apps/{PROD}/health", headers={"fly-force-instance-id": new})
        assert forced.status_code == 503
        other = sim.ctl.get(f"/_apps/{PROD}/health", headers={"fly-force-instance-id": old})
        assert other.status_code == 200
    gone = sim.ctl.get(f"/_apps/{PROD}/health", headers={"fly-force-instance-id": "nosuchmachine"})
    assert gone.status_code == 503
