"""Serve configured endpoints: status, body, headers, ``Location`` and latency.

Latency is an ``asyncio.sleep`` so hundreds of slow requests are served at once. No token is
needed. A path matches exactly, then with or without a trailing slash; unknown paths are 404.

Requests go the way Fly Proxy sends them (``Backend.route``): to a started machine, answering
with the endpoints of the image that machine runs; when none is started, the proxy starts a
stopped machine whose service autostarts and the request waits for its boot (so a request
wakes an auto-stopped app, and shows in ``mutations`` as a ``machine_start`` by the proxy);
with no machine to take it (all booting, or stopped without autostart) the answer is 503.
A ``fly-force-instance-id`` header sends the request to that machine only (503 when it cannot
take it: flysim's choice of status, the docs say only that there is no fallback).
"""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim.state import Backend, Endpoint

# Fly Proxy's header for "this machine, no other" (docs networking/dynamic-request-routing).
FORCE_INSTANCE = "fly-force-instance-id"


def _match(endpoints: dict[str, Endpoint], path: str) -> Endpoint | None:
    for candidate in (path, path.rstrip("/") or "/", path + "/"):
        if candidate in endpoints:
            return endpoints[candidate]
    return None


async def _answer(endpoint: Endpoint) -> Response:
    if endpoint.latency_ms:
        await asyncio.sleep(endpoint.latency_ms / 1000)
    headers = dict(endpoint.headers)
    if endpoint.location:
        headers["Location"] = endpoint.location
    elif 300 <= endpoint.status < 400:
        headers.setdefault("Location", "/")
    if isinstance(endpoint.body, dict | list):
        return Response(
            json.dumps(endpoint.body),
            status_code=endpoint.status,
            headers=headers,
            media_type="application/json",
        )
    return Response(
        str(endpoint.body), status_code=endpoint.status, headers=headers, media_type="text/plain"
    )


def _not_found(what: str) -> Response:
    return JSONResponse({"error": f"not found: {what}"}, status_code=404)


async def app_endpoint(request: Request) -> Response:
    """``ANY /_apps/{app}/{path}``."""
    backend: Backend = request.app.state.backend
    name, path = request.path_params["app"], "/" + request.path_params.get("path", "")
    with backend.lock:
        if name not in backend.apps:
            return _not_found(f"app {name}")
        backend.tick()
        routed = backend.route(name, request.headers.get(FORCE_INSTANCE))
    if routed is None:
        return Response("no machine is started to serve the request", status_code=503)
    endpoints, wait = routed
    if wait > 0:
        await asyncio.sleep(wait)
    endpoint = _match(endpoints, path)
    if endpoint is None:
        return _not_found(path)
    return await _answer(endpoint)


async def external_endpoint(request: Request) -> Response:
    """``ANY /_ext/{name}/{path}``; a service with ``auth`` answers 401 without its key."""
    backend: Backend = request.app.state.backend
    name, path = request.path_params["name"], "/" + request.path_params.get("path", "")
    with backend.lock:
        endpoints = backend.external.get(name)
        endpoint = _match(endpoints, path) if endpoints is not None else None
        spec = backend.scenario.external.get(name)
    if endpoints is None:
        return _not_found(f"external service {name}")
    auth = spec.auth if spec is not None else None
    if auth is not None:
        given = request.headers.get(auth.header)
        if given != auth.value:
            body = auth.missing_body if given is None else auth.invalid_body
            return JSONResponse(body, status_code=401)
    if endpoint is None:
        return _not_found(path)
    return await _answer(endpoint)
