"""Machines API handlers: read parameters, call the backend, answer the spec's shapes.

Handler names follow the spec's operationIds (``Apps_list`` -> ``apps_list``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim.errors import BadRequest, NotFound
from flysim.guard import json_body
from flysim.shapes import app_json, machine_json, secrets_json, volume_json
from flysim.state import Backend


async def apps_list(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps?org_slug=`` -> ListAppsResponse."""
    org = request.query_params.get("org_slug")
    if not org:
        raise BadRequest("org_slug is required")
    if org not in (backend.org, "personal"):
        raise NotFound(f"organization {org!r} not found")
    with backend.lock:
        apps = [app_json(backend, app) for app in backend.apps.values()]
    return JSONResponse({"total_apps": len(apps), "apps": apps})


async def apps_show(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}`` -> App."""
    with backend.lock:
        return JSONResponse(app_json(backend, backend.app(request.path_params["app"])))


async def machines_list(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/machines[?state=a,b][&region=r]`` -> [Machine]."""
    states = {s for s in request.query_params.get("state", "").split(",") if s}
    region = request.query_params.get("region")
    with backend.lock:
        app = backend.app(request.path_params["app"])
        machines = [
            machine_json(backend, app, m)
            for m in app.machines.values()
            if (not states or m.state in states) and (not region or m.region == region)
        ]
    return JSONResponse(machines)


async def machines_show(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/machines/{machine_id}`` -> Machine."""
    with backend.lock:
        app = backend.app(request.path_params["app"])
        machine = backend.machine(app.name, request.path_params["machine_id"])
        return JSONResponse(machine_json(backend, app, machine))


async def machines_update(request: Request, backend: Backend) -> Response:
    """``POST /v1/apps/{app}/machines/{machine_id}``: full config replace -> Machine."""
    body = await json_body(request)
    name, mid = request.path_params["app"], request.path_params["machine_id"]
    with backend.lock:
        machine = backend.update_machine(name, mid, body)
        return JSONResponse(machine_json(backend, backend.app(name), machine))


def _state_action(action: str) -> Callable[[Request, Backend], Awaitable[Response]]:
    async def handler(request: Request, backend: Backend) -> Response:
        previous = backend.set_machine_state(
            request.path_params["app"], request.path_params["machine_id"], action
        )
        return JSONResponse({"ok": True, "previous_state": previous})

    handler.__name__ = f"machines_{action}"
    handler.__doc__ = f"``POST /v1/apps/{{app}}/machines/{{machine_id}}/{action}``."
    return handler


machines_start = _state_action("start")
machines_stop = _state_action("stop")
machines_restart = _state_action("restart")


async def volumes_list(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/volumes`` -> [Volume] (without pending_destroy ones)."""
    with backend.lock:
        app = backend.app(request.path_params["app"])
        return JSONResponse([volume_json(v) for v in app.live_volumes()])


async def volumes_get_by_id(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/volumes/{volume_id}`` -> Volume."""
    with backend.lock:
        volume = backend.volume(request.path_params["app"], request.path_params["volume_id"])
        return JSONResponse(volume_json(volume))


async def volume_delete(request: Request, backend: Backend) -> Response:
    """``DELETE /v1/apps/{app}/volumes/{volume_id}`` -> Volume (pending_destroy)."""
    volume = backend.delete_volume(request.path_params["app"], request.path_params["volume_id"])
    return JSONResponse(volume_json(volume))


async def volumes_extend(request: Request, backend: Backend) -> Response:
    """``PUT /v1/apps/{app}/volumes/{volume_id}/extend`` -> ExtendVolumeResponse."""
    body = await json_body(request)
    volume, needs_restart = backend.extend_volume(
        request.path_params["app"], request.path_params["volume_id"], body
    )
    return JSONResponse({"needs_restart": needs_restart, "volume": volume_json(volume)})


async def secrets_list(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/secrets`` -> AppSecrets (names and digests)."""
    with backend.lock:
        return JSONResponse(secrets_json(backend.app(request.path_params["app"])))
