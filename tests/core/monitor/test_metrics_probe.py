"""Fleet metrics (one range query per figure) and the endpoint probe."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from hotdash_ops.fly.prometheus import PrometheusClient
from hotdash_ops.inventory import load_inventory
from hotdash_ops.models import Machine
from hotdash_ops.monitor.metrics import QUERIES, build_query, fetch_fleet_metrics
from hotdash_ops.monitor.probe import not_woken, probe, skipped
from hotdash_ops.redaction import Redactor
from tests.conftest import ROOT

APPS = ["hotdash-staging", "hotdash-production", "hotdash-agent-service"]


def matrix(rows: dict[str, list[str]]) -> dict[str, Any]:
    result = [
        {"metric": {"app": app}, "values": [[1700000000 + 60 * i, v] for i, v in enumerate(vals)]}
        for app, vals in rows.items()
    ]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_queries_are_the_fly_notes_expressions() -> None:
    assert set(QUERIES) == {"cpu_pct", "mem_pct", "p95_ms", "errors_5xx", "rps"}
    # The 5xx rate alone: a PromQL ratio would have no value for an app without 5xx series.
    q = build_query("errors_5xx", window_minutes=15)
    assert q == 'sum by (app) (rate(fly_edge_http_responses_count{status=~"5.."}[15m]))'
    assert build_query("rps", window_minutes=15) == (
        "sum by (app) (rate(fly_edge_http_responses_count[15m]))"
    )
    scoped = build_query("cpu_pct", window_minutes=5, apps=["app-one", "app-two"])
    assert 'fly_instance_cpu{mode!="idle",app=~"app-one|app-two"}[5m]' in scoped
    assert 'fly_instance_cpu{app=~"app-one|app-two"}[5m]' in scoped
    with pytest.raises(ValueError, match="app: "):
        build_query("rps", window_minutes=5, apps=['x"}) or vector(1) #'])


def _prom(handler: Any) -> PrometheusClient:
    return PrometheusClient(
        base_url="https://api.fly.io/prometheus",
        org="personal",
        token="t",
        transport=httpx.MockTransport(handler),
        read_attempts=2,
        backoff_seconds=0.001,
    )


async def test_fleet_metrics_one_query_per_figure() -> None:
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        seen.append(form)
        assert request.url.path == "/prometheus/personal/api/v1/query_range"
        query = form["query"][0]
        if "histogram_quantile" in query:
            return httpx.Response(500, json={"error": "overloaded"})
        if "mem_total" in query:
            return httpx.Response(200, json=matrix({"hotdash-staging": ["50", "70", "NaN"]}))
        if "fly_instance_cpu" in query:
            return httpx.Response(
                200, json=matrix({"hotdash-staging": ["10", "30"], "hotdash-production": ["0"]})
            )
        if 'status=~"5.."' in query:  # production answered no 5xx: it has no 5xx series
            return httpx.Response(200, json=matrix({"hotdash-staging": ["0.08", "0.12"]}))
        # requests: the agent service had none in the window (no series at all)
        return httpx.Response(
            200, json=matrix({"hotdash-staging": ["4", "6"], "hotdash-production": ["2", "2"]})
        )

    now = datetime(2025, 10, 14, 9, tzinfo=UTC)
    async with _prom(handler) as prom:
        fleet = await fetch_fleet_metrics(prom, APPS, window_minutes=15, now=now)
    # 5 queries, the failing one tried twice (retries), never one query per app.
    assert len(seen) == 6
    assert seen[0]["step"] == ["60"] and seen[0]["end"] == [f"{now.timestamp():.3f}"]
    staging = fleet.by_app["hotdash-staging"]
    assert staging.cpu_pct == 20 and staging.peaks["cpu_pct"] == 30
    assert staging.mem_pct == 60 and staging.rps == 5
    assert staging.error_rate == pytest.approx(0.02)  # 0.08/4 and 0.12/6
    assert staging.p95_ms is None and not staging.no_traffic
    production = fleet.by_app["hotdash-production"]
    assert production.cpu_pct == 0.0
    assert production.mem_pct is None  # missing app: None, not 0
    assert production.error_rate == 0.0  # traffic and no 5xx series: 0, not "no data"
    agent = fleet.by_app["hotdash-agent-service"]
    assert agent.no_traffic and agent.error_rate is None and agent.rps is None
    assert list(fleet.errors) == ["p95_ms"] and "overloaded" in fleet.errors["p95_ms"]
    assert not math.isnan(staging.mem_pct or 0)


async def test_a_failed_request_or_5xx_query_leaves_the_ratio_unknown_not_zero() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.content.decode())["query"][0]
        if 'status=~"5.."' in query:
            return httpx.Response(503, json={"error": "prometheus down"})
        return httpx.Response(200, json=matrix({"hotdash-staging": ["4"]}))

    async with _prom(handler) as prom:
        fleet = await fetch_fleet_metrics(prom, ["hotdash-staging"])
    staging = fleet.by_app["hotdash-staging"]
    assert staging.error_rate is None and not staging.no_traffic
    assert "prometheus down" in fleet.errors["error_rate"]


class _AppHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
        pass

    def do_GET(self) -> None:  # stdlib name
        if self.path == "/slow":
            time.sleep(0.5)
        if self.path == "/auth/callback":
            self.send_response(302)
            self.send_header("Location", "/login")
        else:
            self.send_response(200 if self.path in ("/health", "/slow") else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def app_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AppHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_probe(app_server: str) -> None:
    async with httpx.AsyncClient() as client:
        ok, redirect, down, slow = await asyncio.gather(
            probe(client, app_server + "/health", budget_ms=2000),
            probe(client, app_server + "/auth/callback", expected_status=302),
            probe(client, app_server + "/other"),
            probe(client, app_server + "/slow", budget_ms=100),
        )
        timeout = await probe(client, app_server + "/slow", timeout=0.1)
        refused = await probe(
            client, "http://127.0.0.1:9/secret-tok3n", redactor=Redactor(["secret-tok3n"])
        )
    assert ok.ok is True and ok.status == 200 and ok.latency_ms is not None
    assert redirect.ok is True and redirect.status == 302  # not followed
    assert down.ok is False and down.status == 503
    assert slow.status_ok is True and slow.within_budget is False and slow.ok is False
    assert "budget" in slow.describe()
    assert timeout.status is None and timeout.ok is None and "timed out" in (timeout.error or "")
    assert refused.status is None and refused.error and "secret-tok3n" not in refused.error


def _machine(state: str, autostart: bool = True) -> Machine:
    return Machine.model_validate(
        {"id": f"m-{state}", "state": state, "region": "ord",
         "config": {"services": [{"internal_port": 8080, "autostart": autostart}]}}
    )  # fmt: skip


def test_an_auto_stopped_app_is_not_woken_unless_the_inventory_says_so() -> None:
    inventory = load_inventory(ROOT / "deployments/inventory.yaml")
    agent, staging = inventory.app("hotdash-agent-service"), inventory.app("hotdash-staging")
    assert (agent.probe_when_stopped, staging.probe_when_stopped) == (False, True)
    asleep = [_machine("stopped"), _machine("suspended")]
    assert "a request would start one" in (not_woken(agent, asleep) or "")
    assert not_woken(staging, asleep) is None  # the inventory asks for it
    assert not_woken(agent, [_machine("stopped"), _machine("started")]) is None
    assert not_woken(agent, [_machine("stopped", autostart=False)]) is None  # nothing wakes it
    assert not_woken(agent, "FlyUnavailable: machines unreadable") is None
    result = skipped("http://x/health", "auto-stopped")
    assert (
        result.ok is None and result.describe() == "http://x/health: not requested (auto-stopped)"
    )
