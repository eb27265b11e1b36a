"""The flysim ASGI app: every service's routes over one :class:`~flysim.state.Backend`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim import control
from flysim.app_endpoints import urls as app_endpoints
from flysim.flyctl_api import urls as flyctl_api
from flysim.logs import urls as logs
from flysim.machines import urls as machines
from flysim.prometheus import urls as prometheus
from flysim.state import Backend


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"not found: {request.url.path}"}, status_code=404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"method {request.method} not allowed"}, status_code=405)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"flysim internal error: {exc!r}"}, status_code=500)


def create_app(backend: Backend) -> Starlette:
    """The server for ``backend``."""
    app = Starlette(
        routes=[
            *machines.routes,
            *prometheus.routes,
            *logs.routes,
            *flyctl_api.routes,
            *app_endpoints.routes,
            *control.routes,
        ],
        exception_handlers={
            404: _not_found,
            405: _method_not_allowed,
            Exception: _server_error,
        },
    )
    app.state.backend = backend
    return app
