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
from hotdash_ops.monitor.metrics import QUERIES, build_query, fetch_fleet_metrics
from hotdash_ops.monitor.probe import probe
from hotdash_ops.redaction import Redactor

APPS = ["hotdash-staging", "hotdash-production", "hotdash-agent-service"]


def matrix(rows: dict[str, list[str]]) -> dict[str, Any]:
    result = [
        {"metric": {"app": app}, "values": [[1700000000 + 60 * i, v] for i, v in enumerate(vals)]}
        for app, vals in rows.items()
    ]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_queries_are_the_fly_notes_expressions() -> None:
    assert set(QUERIES) == {"cpu_pct", "mem_pct", "p95_ms", "error_rate", "rps"}
    q = build_query("error_rate", window_minutes=15)
    assert q == (
        'sum by (app) (rate(fly_edge_http_responses_count{status=~"5.."}[15m]))'
        " / sum by (app) (rate(fly_edge_http_responses_count[15m]))"
    )
    scoped = build_query("cpu_pct", window_minutes=5, apps=["app-one", "app-two"])
    assert 'fly_instance_cpu{mode!="idle",app=~"app-one|app-two"}[5m]' in scoped
    assert 'fly_instance_cpu{app=~"app-one|app-two"}[5m]' in scoped
    with pytest.raises(ValueError, match="app: "):
        build_query("rps", window_minutes=5, apps=['x"}) or vector(1) #'])


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
        if 'status=~"5.."' in query:
            return httpx.Response(200, json=matrix({"hotdash-staging": ["0.02", "NaN"]}))
        return httpx.Response(200, json=matrix({"hotdash-staging": ["4", "6"]}))

    prom = PrometheusClient(
        base_url="https://api.fly.io/prometheus",
        org="personal",
        token="t",
        transport=httpx.MockTransport(handler),
        read_attempts=2,
        backoff_seconds=0.001,
    )
    now = datetime(2025, 10, 14, 9, tzinfo=UTC)
    async with prom:
        fleet = await fetch_fleet_metrics(prom, APPS, window_minutes=15, now=now)
    # 5 figures, the failing one tried twice (retries), never one query per app.
    assert len(seen) == 6
    assert seen[0]["step"] == ["60"] and seen[0]["end"] == [f"{now.timestamp():.3f}"]
    staging = fleet.by_app["hotdash-staging"]
    assert staging.cpu_pct == 20 and staging.peaks["cpu_pct"] == 30
    assert staging.mem_pct == 60 and staging.error_rate == 0.02 and staging.rps == 5
    assert staging.p95_ms is None
    assert fleet.by_app["hotdash-production"].cpu_pct == 0.0
    assert fleet.by_app["hotdash-production"].mem_pct is None  # missing app: None, not 0
    agent = fleet.by_app["hotdash-agent-service"]
    assert all(getattr(agent, f) is None for f in QUERIES)
    assert list(fleet.errors) == ["p95_ms"] and "overloaded" in fleet.errors["p95_ms"]
    assert not math.isnan(staging.mem_pct or 0)


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
