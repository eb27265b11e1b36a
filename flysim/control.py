"""The control API for tests and drills (moto's ``/moto-api``), all in one place. No token.

* ``GET /_sim/state``: the whole state as JSON (per app: current image, release and config,
  releases (with their configs), machines, leases, ``timeline`` (every machine state change,
  ``{"time": unix, "machine", "state"}``), volumes, secrets, effective endpoints and metrics,
  fault), the ``timing`` in force, and ``mutations``, every applied change
  ``{"time", "app", "kind", "detail"}``.
* ``POST /_sim/reset``: back to the scenario.
* ``POST /_sim/apps``: create an app from an app spec (scenario format plus ``"name"``).
* ``PATCH /_sim/apps/<app>``: any of ``endpoints`` ({path: {status, latency_ms, body,
  location, headers} | null}, merged), ``metrics`` ({cpu_pct, mem_pct, p95_ms, error_rate,
  rps}, null = no data), ``fault`` ({"mode": "500"|"503"|"429"|"timeout", "scope":
  "reads"|"mutations"|"all", "times": N|null, "hang_seconds": 30} or null to clear),
  ``machines_add`` (machine specs), ``machine_states`` ({id: state | {state, check_status}}),
  ``volumes_add`` (volume specs), ``releases_add`` (release specs). Answers the app's state.
* ``PATCH /_sim/timing``: change the timing (``boot_seconds``, ``wait_timeout_seconds``, ...)
  until ``reset``.
* ``PATCH /_sim/images/<image ref>``: change (or add) an image's overrides: ``endpoints``,
  ``metrics``, ``deploy_fails``, ``deploy_error``, ``boot_seconds`` (e.g. make the image a
  rollback goes back to boot slowly). Until ``reset``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flysim.errors import FlyAPIError
from flysim.guard import json_body
from flysim.shapes import state_json
from flysim.state import Backend


def _backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


async def get_state(request: Request) -> Response:
    backend = _backend(request)
    with backend.lock:
        backend.tick()
        return JSONResponse(state_json(backend))


async def reset(request: Request) -> Response:
    _backend(request).reset()
    return JSONResponse({"ok": True})


def _changing(
    change: Callable[[Backend, Request, Any], tuple[Any, int]],
) -> Callable[[Request], Awaitable[Response]]:
    """A control route that reads a JSON body and answers what `change` returns (200 or the
    status it gives), or the error it raises."""

    async def endpoint(request: Request) -> Response:
        backend = _backend(request)
        try:
            body = await json_body(request)
            with backend.lock:
                answer, status = change(backend, request, body)
                return JSONResponse(answer, status_code=status)
        except FlyAPIError as exc:
            return exc.to_response()

    return endpoint


def _patch_app(backend: Backend, request: Request, body: Any) -> tuple[Any, int]:
    backend.patch_app(request.path_params["app"], body)
    return state_json(backend)["apps"][request.path_params["app"]], 200


def _create_app(backend: Backend, request: Request, body: Any) -> tuple[Any, int]:
    app = backend.create_app(body)
    return state_json(backend)["apps"][app.name], 201


def _patch_image(backend: Backend, request: Request, body: Any) -> tuple[Any, int]:
    return backend.patch_image(request.path_params["ref"], body).model_dump(), 200


def _patch_timing(backend: Backend, request: Request, body: Any) -> tuple[Any, int]:
    return backend.patch_timing(body).model_dump(), 200


routes = [
    Route("/_sim/state", get_state, methods=["GET"]),
    Route("/_sim/timing", _changing(_patch_timing), methods=["PATCH"]),
    Route("/_sim/images/{ref:path}", _changing(_patch_image), methods=["PATCH"]),
    Route("/_sim/reset", reset, methods=["POST"]),
    Route("/_sim/apps", _changing(_create_app), methods=["POST"]),
    Route("/_sim/apps/{app}", _changing(_patch_app), methods=["PATCH"]),
]
