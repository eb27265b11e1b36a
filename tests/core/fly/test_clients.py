"""Machines, Prometheus and logs clients: error mapping, read retries, no mutation retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from hotdash_ops.errors import (
    FlyAuthError,
    FlyBadRequest,
    FlyConflict,
    FlyNotFound,
    FlyRateLimited,
    FlyUnavailable,
)
from hotdash_ops.fly.logs import LogsClient
from hotdash_ops.fly.machines import MachinesClient
from hotdash_ops.fly.prometheus import PrometheusClient
from hotdash_ops.models import MachineConfig

Handler = Callable[[httpx.Request], httpx.Response]
MACHINE = {"id": "3d8d9e1b2c4f87", "state": "started", "region": "iad", "config": {"image": "i"}}


def counting(responses: list[httpx.Response]) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering `responses` in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen) - 1, len(responses) - 1)]

    return handler, seen


def machines(handler: Handler, **kw: Any) -> MachinesClient:
    return MachinesClient(
        base_url="https://api.machines.dev",
        token="fm2_tok",
        transport=httpx.MockTransport(handler),
        backoff_seconds=0.001,
        **kw,
    )


async def test_read_retries_503_then_succeeds() -> None:
    handler, seen = counting(
        [httpx.Response(503), httpx.Response(503), httpx.Response(200, json=[MACHINE])]
    )
    async with machines(handler) as client:
        result = await client.list_machines("hotdash-staging")
    assert [m.id for m in result] == ["3d8d9e1b2c4f87"]
    assert len(seen) == 3
    assert seen[0].url.path == "/v1/apps/hotdash-staging/machines"
    assert seen[0].headers["authorization"] == "FlyV1 fm2_tok"


async def test_429_forever_raises_rate_limited_after_n_attempts() -> None:
    handler, seen = counting([httpx.Response(429, json={"error": "rate limited"})])
    async with machines(handler, read_attempts=3) as client:
        with pytest.raises(FlyRateLimited, match="rate limited") as exc:
            await client.list_volumes("hotdash-staging")
    assert exc.value.status == 429 and len(seen) == 3


async def test_mutation_503_is_not_retried() -> None:
    handler, seen = counting([httpx.Response(503, json={"error": "busy"})])
    async with machines(handler) as client:
        with pytest.raises(FlyUnavailable, match="busy"):
            await client.update_machine(
                "hotdash-staging", "3d8d9e1b2c4f87", MachineConfig(image="x")
            )
    assert len(seen) == 1
    assert json.loads(seen[0].content) == {
        "config": {"image": "x", "env": {}, "metadata": {}, "services": [], "mounts": []}
    }


async def test_update_sends_the_instance_id_guard_and_the_lease_nonce() -> None:
    handler, seen = counting(
        [
            httpx.Response(201, json={"status": "success", "data": {"nonce": "5c35f65c9f95"}}),
            httpx.Response(
                200, json={"id": "3d8d9e1b2c4f87", "state": "starting", "region": "ord"}
            ),  # fmt: skip
            httpx.Response(200, json={"status": "success", "data": {"ok": True}}),
        ]
    )
    async with machines(handler) as client:
        nonce = await client.acquire_lease("hotdash-staging", "3d8d9e1b2c4f87", ttl_seconds=30)
        updated = await client.update_machine(
            "hotdash-staging", "3d8d9e1b2c4f87", MachineConfig(image="x"),
            current_version="01H000", lease_nonce=nonce,
        )  # fmt: skip
        await client.release_lease("hotdash-staging", "3d8d9e1b2c4f87", nonce)
    assert nonce == "5c35f65c9f95" and updated.state == "starting"
    lease, update, release = seen
    assert (lease.method, lease.url.path) == ("POST", "/v1/apps/hotdash-staging/machines/"
                                                     "3d8d9e1b2c4f87/lease")  # fmt: skip
    assert json.loads(update.content)["current_version"] == "01H000"
    assert update.headers["fly-machine-lease-nonce"] == "5c35f65c9f95"
    assert (release.method, release.headers["fly-machine-lease-nonce"]) == (
        "DELETE", "5c35f65c9f95",
    )  # fmt: skip


async def test_volumes_in_flys_destroy_states_are_left_out() -> None:
    def volume(vid: str, state: str) -> dict[str, object]:
        return {"id": vid, "name": "data", "state": state, "size_gb": 1, "region": "ord"}

    states = ["created", "scheduling_destroy", "fork_cleanup", "waiting_for_detach",
              "pending_destroy", "destroying", "extending"]  # fmt: skip
    handler, _ = counting(
        [httpx.Response(200, json=[volume(f"vol_{i}", s) for i, s in enumerate(states)])]
    )
    async with machines(handler) as client:
        listed = await client.list_volumes("hotdash-staging")
    assert [v.state for v in listed] == ["created", "extending"]


async def test_timeout_becomes_unavailable_after_retries() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("slow", request=request)

    async with machines(handler, read_attempts=2) as client:
        with pytest.raises(FlyUnavailable, match="timed out"):
            await client.get_app("hotdash-staging")
    assert calls == 2


async def test_connection_error_becomes_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with machines(handler, read_attempts=1) as client:
        with pytest.raises(FlyUnavailable, match="ConnectError"):
            await client.get_app("hotdash-staging")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, FlyAuthError),
        (403, FlyAuthError),
        (404, FlyNotFound),
        (409, FlyConflict),
        (412, FlyConflict),
        (400, FlyBadRequest),
        (422, FlyBadRequest),
    ],
)
async def test_4xx_raise_at_once_keeping_fly_error_text(
    status: int, error: type[Exception]
) -> None:
    handler, seen = counting([httpx.Response(status, json={"error": f"fly says {status}"})])
    async with machines(handler) as client:
        with pytest.raises(error, match=f"fly says {status}") as exc:
            await client.get_machine("hotdash-staging", "3d8d9e1b2c4f87")
    assert len(seen) == 1 and getattr(exc.value, "status", None) == status


async def test_invalid_app_name_refused_before_request() -> None:
    handler, seen = counting([httpx.Response(200, json=[])])
    async with machines(handler) as client:
        with pytest.raises(ValueError, match="app: "):
            await client.list_machines("../../v1/apps")
    assert seen == []


async def test_secrets_and_apps_shapes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/apps":
            assert request.url.params["org_slug"] == "personal"
            return httpx.Response(200, json={"total_apps": 1, "apps": [{"name": "hotdash-x"}]})
        return httpx.Response(
            200, json={"secrets": [{"name": "DATABASE_URL", "digest": "d", "value": "pw"}]}
        )

    async with machines(handler) as client:
        assert [a.name for a in await client.list_apps("personal")] == ["hotdash-x"]
        secrets = await client.list_secrets("hotdash-staging")
    assert secrets[0].name == "DATABASE_URL" and "pw" not in secrets[0].model_dump_json()


# -- against a real HTTP server ---------------------------------------------------------------


class _FlyHandler(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.requests.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_GET(self) -> None:  # stdlib name
        self._record()
        if self.path.startswith("/v1/apps/hotdash-staging/machines"):
            self._answer(200, [MACHINE])
        elif self.path.startswith("/api/v1/apps/hotdash-staging/logs"):
            entry = {"timestamp": "2025-10-14T09:00:00Z", "message": "boom", "level": "error"}
            self._answer(200, {"data": [{"id": "1", "attributes": entry}], "meta": {}})
        else:
            self._answer(404, {"error": "app not found"})

    def do_POST(self) -> None:  # stdlib name
        body = self._record()
        form = parse_qs(body.decode())
        if self.path == "/prometheus/personal/api/v1/query" and "bad(" not in form["query"][0]:
            result = [{"metric": {"app": "hotdash-staging"}, "value": [1, "42"]}]
            self._answer(
                200, {"status": "success", "data": {"resultType": "vector", "result": result}}
            )
        else:
            self._answer(400, {"status": "error", "errorType": "bad_data", "error": "parse error"})


@pytest.fixture
def fly_server() -> Iterator[str]:
    _FlyHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_clients_against_real_server(fly_server: str) -> None:
    async with MachinesClient(base_url=fly_server, token="oauth-token-1") as client:
        assert (await client.list_machines("hotdash-staging"))[0].state == "started"
        with pytest.raises(FlyNotFound, match="app not found"):
            await client.list_machines("hotdash-nope")
    method, path, headers, _ = _FlyHandler.requests[0]
    assert (method, path) == ("GET", "/v1/apps/hotdash-staging/machines")
    assert headers["Authorization"] == "Bearer oauth-token-1"

    async with LogsClient(base_url=fly_server, token="t0ken") as logs:
        entries = await logs.recent("hotdash-staging")
    assert entries[0].message == "boom" and entries[0].is_error

    prom = PrometheusClient(
        base_url=fly_server + "/prometheus", org="personal", token=None, backoff_seconds=0.001
    )
    async with prom:
        at = datetime(2025, 10, 14, tzinfo=UTC)
        result = await prom.query('sum by (app) (rate(x{app=~"a|b"}[5m]))', at=at)
        assert result.by_label()["hotdash-staging"].values == [(1.0, 42.0)]
        with pytest.raises(FlyBadRequest, match="parse error"):
            await prom.query("bad(")
    _, _, headers, body = _FlyHandler.requests[-2]
    assert "Authorization" not in headers
    assert parse_qs(body.decode())["time"] == [f"{at.timestamp():.3f}"]
