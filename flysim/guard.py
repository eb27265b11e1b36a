"""What every API route does before its handler: token check, unknown app, injected faults.

Routes are declared with :func:`fly_route`, which turns a handler ``(request, backend)`` into a
Starlette endpoint that

1. checks ``Authorization: Bearer <t>`` or ``FlyV1 <t>`` (comma-joined tokens allowed) against
   the backend's token (401 otherwise), unless ``auth=False``;
2. answers 404 for an unknown ``{app}`` path parameter;
3. advances time-driven state (``backend.tick()``: boots end, leases expire, ...);
4. applies the app's fault (``PATCH /_sim/apps/<app>`` ``{"fault": ...}``) if its scope covers
   this route (``mutation=True`` routes are "mutations", the others "reads"), before the
   handler runs, so a faulted mutation is never applied;
5. renders any :class:`~flysim.errors.FlyAPIError` as Fly's ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flysim.errors import (
    BadRequest,
    FlyAPIError,
    GatewayTimeout,
    InternalError,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)
from flysim.state import Backend, Fault

Handler = Callable[[Request, Backend], Awaitable[Response]]


def _strip_scheme(token: str) -> str:
    for scheme in ("Bearer ", "FlyV1 "):
        if token.startswith(scheme):
            return token[len(scheme) :].strip()
    return token.strip()


def check_token(request: Request, backend: Backend) -> None:
    """401 unless the Authorization header carries the backend's token."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme not in ("Bearer", "FlyV1") or not value.strip():
        raise Unauthorized("You must be authenticated to view this.")
    expected = _strip_scheme(backend.token)
    if expected not in [t.strip() for t in value.split(",")]:
        raise Unauthorized("token validation error")


async def raise_fault(fault: Fault) -> None:
    """Fail as the fault says; ``timeout`` hangs first, then answers 504."""
    if fault.mode == "timeout":
        await asyncio.sleep(fault.hang_seconds)
        raise GatewayTimeout("flysim fault: upstream timed out")
    error = {"500": InternalError, "503": ServiceUnavailable, "429": RateLimited}[fault.mode]
    raise error(f"flysim fault injected: {fault.mode}")


async def apply_faults(backend: Backend, apps: Iterable[str], *, mutation: bool) -> None:
    """Raise the first fault among ``apps`` that applies."""
    for name in apps:
        fault = backend.take_fault(name, mutation)
        if fault is not None:
            await raise_fault(fault)


NONCE_HEADER = "fly-machine-lease-nonce"  # fly-go flaps/flaps_machines.go NonceHeader


def lease_nonce(request: Request) -> str | None:
    """The ``fly-machine-lease-nonce`` header, which proves the caller holds the lease."""
    return request.headers.get(NONCE_HEADER) or None


async def json_body(request: Request) -> Any:
    """The request's JSON body (``{}`` when empty); 400 when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON body: {exc}") from None


def fly_route(
    handler: Handler, *, mutation: bool = False, auth: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with the token check, app lookup, faults and error rendering."""

    async def endpoint(request: Request) -> Response:
        backend: Backend = request.app.state.backend
        try:
            if auth:
                check_token(request, backend)
            backend.tick()
            app_name = request.path_params.get("app")
            if app_name is not None:
                with backend.lock:
                    backend.app(app_name)
                await apply_faults(backend, [app_name], mutation=mutation)
            return await handler(request, backend)
        except FlyAPIError as exc:
            return exc.to_response()

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
