"""Machines API handlers: read parameters, call the backend, answer the spec's shapes.

Handler names follow the spec's operationIds (``Apps_list`` -> ``apps_list``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim.errors import BadRequest, NotFound, RequestTimeout
from flysim.guard import json_body, lease_nonce
from flysim.shapes import app_json, machine_json, secrets_json, volume_json
from flysim.state import Backend

WAIT_STATES = ("started", "stopped", "suspended", "destroyed")
WAIT_MAX_SECONDS = 60  # docs machines-resource "Wait for a Machine": default and flyctl's cap


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
    """``POST /v1/apps/{app}/machines/{machine_id}``: full config replace -> Machine. A leased
    machine needs the ``fly-machine-lease-nonce`` header (409 otherwise); a stale
    ``current_version`` answers 412."""
    body = await json_body(request)
    name, mid = request.path_params["app"], request.path_params["machine_id"]
    with backend.lock:
        machine = backend.update_machine(name, mid, body, nonce=lease_nonce(request))
        return JSONResponse(machine_json(backend, backend.app(name), machine))


async def machines_create(request: Request, backend: Backend) -> Response:
    """``POST /v1/apps/{app}/machines`` -> Machine (with ``nonce`` when ``lease_ttl`` is set)."""
    body = await json_body(request)
    name = request.path_params["app"]
    with backend.lock:
        machine, lease = backend.create_machine(name, body)
        data = machine_json(backend, backend.app(name), machine)
        if lease is not None:
            data["nonce"] = lease.nonce
        return JSONResponse(data)


async def machines_delete(request: Request, backend: Backend) -> Response:
    """``DELETE /v1/apps/{app}/machines/{machine_id}[?force=true]``."""
    force = request.query_params.get("force", "") == "true" or "kill" in request.query_params
    backend.destroy_machine(
        request.path_params["app"],
        request.path_params["machine_id"],
        force=force,
        nonce=lease_nonce(request),
    )
    return JSONResponse({"ok": True})


async def machines_wait(request: Request, backend: Backend) -> Response:
    """``GET .../wait?state=started&timeout=60[&instance_id=]``: answers when the machine is in
    the state (``{"ok": true, "state": ...}``), 408 when ``timeout`` seconds pass first."""
    params = request.query_params
    state = params.get("state", "started")
    if state not in WAIT_STATES:
        raise BadRequest(f"state must be one of {', '.join(WAIT_STATES)}, not {state!r}")
    try:
        timeout = min(float(params.get("timeout", WAIT_MAX_SECONDS)), WAIT_MAX_SECONDS)
    except ValueError:
        raise BadRequest("timeout must be a number of seconds") from None
    name, mid = request.path_params["app"], request.path_params["machine_id"]
    deadline = time.monotonic() + timeout
    while True:
        with backend.lock:
            backend.tick()
            app = backend.app(name)
            machine = app.machines.get(mid)
            current = "destroyed" if machine is None else machine.state
            version = "" if machine is None else machine.instance_id
        if machine is None and state != "destroyed":
            raise NotFound(f"machine not found: {mid}")
        if current == state:
            return JSONResponse({"ok": True, "state": current, "version": version})
        if time.monotonic() >= deadline:
            raise RequestTimeout(
                f"timed out waiting for machine {mid} to be {state} (it is {current})"
            )
        await asyncio.sleep(0.02)


def _state_action(action: str) -> Callable[[Request, Backend], Awaitable[Response]]:
    async def handler(request: Request, backend: Backend) -> Response:
        previous = backend.set_machine_state(
            request.path_params["app"],
            request.path_params["machine_id"],
            action,
            nonce=lease_nonce(request),
        )
        return JSONResponse({"ok": True, "previous_state": previous})

    handler.__name__ = f"machines_{action}"
    handler.__doc__ = f"``POST /v1/apps/{{app}}/machines/{{machine_id}}/{action}``."
    return handler


machines_start = _state_action("start")
machines_stop = _state_action("stop")
machines_restart = _state_action("restart")


def _cordon(cordoned: bool) -> Callable[[Request, Backend], Awaitable[Response]]:
    async def handler(request: Request, backend: Backend) -> Response:
        backend.cordon(
            request.path_params["app"],
            request.path_params["machine_id"],
            cordoned,
            lease_nonce(request),
        )
        return JSONResponse({"ok": True})

    handler.__name__ = "machines_cordon" if cordoned else "machines_uncordon"
    return handler


machines_cordon = _cordon(True)
machines_uncordon = _cordon(False)


async def machines_create_lease(request: Request, backend: Backend) -> Response:
    """``POST .../lease`` {ttl, description} (or ``?ttl=``, as fly-go sends it) -> 201 Lease;
    with the holder's nonce header it refreshes; held by another: 409."""
    body = await json_body(request)
    ttl = request.query_params.get("ttl") or (body.get("ttl") if isinstance(body, dict) else None)
    try:  # whole seconds on Fly; flysim also takes fractions (for short tests)
        seconds = float(ttl) if ttl is not None else 30.0
    except (TypeError, ValueError):
        raise BadRequest("ttl must be a number of seconds") from None
    description = str(body.get("description") or "") if isinstance(body, dict) else ""
    lease = backend.acquire_lease(
        request.path_params["app"],
        request.path_params["machine_id"],
        ttl=seconds,
        description=description,
        nonce=lease_nonce(request),
    )
    return JSONResponse(lease.to_json(), status_code=201)


async def machines_show_lease(request: Request, backend: Backend) -> Response:
    """``GET .../lease`` -> Lease, 404 when none is held."""
    lease = backend.lease_of(request.path_params["app"], request.path_params["machine_id"])
    return JSONResponse(lease.to_json())


async def machines_release_lease(request: Request, backend: Backend) -> Response:
    """``DELETE .../lease`` with the holder's nonce header."""
    backend.release_lease(
        request.path_params["app"], request.path_params["machine_id"], lease_nonce(request)
    )
    return JSONResponse({"status": "success", "data": {"ok": True}})


async def volumes_list(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/volumes`` -> [Volume], every one, also those in Fly's destroy
    pipeline (fly-go flaps/flaps_volumes.go filters them out client side, in GetVolumes)."""
    with backend.lock:
        app = backend.app(request.path_params["app"])
        return JSONResponse([volume_json(v) for v in app.volumes.values()])


async def volumes_get_by_id(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/volumes/{volume_id}`` -> Volume."""
    with backend.lock:
        volume = backend.volume(request.path_params["app"], request.path_params["volume_id"])
        return JSONResponse(volume_json(volume))


async def volume_delete(request: Request, backend: Backend) -> Response:
    """``DELETE /v1/apps/{app}/volumes/{volume_id}`` -> Volume (scheduling_destroy)."""
    volume = backend.delete_volume(request.path_params["app"], request.path_params["volume_id"])
    return JSONResponse(volume_json(volume))


async def volumes_extend(request: Request, backend: Backend) -> Response:
    """``PUT /v1/apps/{app}/volumes/{volume_id}/extend`` -> ExtendVolumeResponse."""
    body = await json_body(request)
    volume, needs_restart = backend.extend_volume(
        request.path_params["app"], request.path_params["volume_id"], body
    )
    return JSONResponse({"needs_restart": needs_restart, "volume": volume_json(volume)})


async def volumes_list_snapshots(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/volumes/{volume_id}/snapshots`` -> [VolumeSnapshot]."""
    app, volume_id = request.path_params["app"], request.path_params["volume_id"]
    return JSONResponse(backend.volume_snapshots(app, volume_id))


async def create_volume_snapshot(request: Request, backend: Backend) -> Response:
    """``POST /v1/apps/{app}/volumes/{volume_id}/snapshots``: 200, no body (the spec)."""
    backend.snapshot_volume(request.path_params["app"], request.path_params["volume_id"])
    return Response(status_code=200)


async def secrets_list(request: Request, backend: Backend) -> Response:
    """``GET /v1/apps/{app}/secrets`` -> AppSecrets (names and digests)."""
    with backend.lock:
        return JSONResponse(secrets_json(backend.app(request.path_params["app"])))
