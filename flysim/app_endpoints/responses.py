"""Serve configured endpoints: status, body, headers, ``Location`` and latency.

Latency is an ``asyncio.sleep`` so hundreds of slow requests are served at once. No token is
needed. A path matches exactly, then with or without a trailing slash; unknown paths are 404.
An app with machines none of which is started, and none able to autostart, answers 503 on
every path, as Fly's proxy does when no machine can take the request.
"""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim.state import Backend, Endpoint


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
        app = backend.apps.get(name)
        if app is None:
            return _not_found(f"app {name}")
        machines = list(app.machines.values())
        serving = any(m.state == "started" for m in machines) or any(
            s.get("autostart", True) for m in machines for s in m.config.get("services", [])
        )
        endpoint = _match(backend.effective_endpoints(app), path)
    if not serving:
        return Response("no machines available to serve the request", status_code=503)
    if endpoint is None:
        return _not_found(path)
    return await _answer(endpoint)


async def external_endpoint(request: Request) -> Response:
    """``ANY /_ext/{name}/{path}``."""
    backend: Backend = request.app.state.backend
    name, path = request.path_params["name"], "/" + request.path_params.get("path", "")
    with backend.lock:
        endpoints = backend.external.get(name)
        endpoint = _match(endpoints, path) if endpoints is not None else None
    if endpoints is None:
        return _not_found(f"external service {name}")
    if endpoint is None:
        return _not_found(path)
    return await _answer(endpoint)
