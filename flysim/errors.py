"""Fly API errors, one class per status code (moto's ``exceptions.py``).

Every error renders Fly's body ``{"error": "<message>"}``::

    FlyAPIError
    ├── BadRequest            400
    ├── Unauthorized          401
    ├── NotFound              404
    ├── RequestTimeout        408  (a machine ``/wait`` that ran out of time)
    ├── Conflict              409  (a lease held by someone else)
    ├── PreconditionFailed    412  (``current_version`` is not the machine's instance_id)
    ├── UnprocessableEntity   422
    ├── RateLimited           429  (adds ``Retry-After``)
    ├── InternalError         500
    ├── ServiceUnavailable    503
    └── GatewayTimeout        504

A subclass states its status and default message in its header:
``class NotFound(FlyAPIError, status=404, message="not found")``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.responses import JSONResponse


class FlyAPIError(Exception):
    """An error the simulated Fly API answers with."""

    status_code: ClassVar[int] = 500
    default_message: ClassVar[str] = "internal server error"

    def __init_subclass__(cls, *, status: int, message: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status_code = status
        cls.default_message = message

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        """Extra response headers."""
        return {}

    def to_response(self) -> JSONResponse:
        """Fly's error body: ``{"error": "..."}``."""
        return JSONResponse(
            {"error": self.message}, status_code=self.status_code, headers=self.headers()
        )


class BadRequest(FlyAPIError, status=400, message="bad request"):
    """400: the request is malformed or refused (e.g. shrinking a volume)."""


class Unauthorized(FlyAPIError, status=401, message="You must be authenticated to view this."):
    """401: missing or wrong token."""


class NotFound(FlyAPIError, status=404, message="not found"):
    """404: no such app, machine, volume or path."""


class RequestTimeout(FlyAPIError, status=408, message="request timeout"):
    """408: ``GET .../wait`` timed out before the machine reached the state."""


class Conflict(FlyAPIError, status=409, message="conflict"):
    """409: the resource is in a state that does not allow the change, or another holder's
    lease guards it."""


class PreconditionFailed(FlyAPIError, status=412, message="precondition failed"):
    """412: a version guard failed (the spec's metadata update answers 412 on a stale
    ``machine_version``; flysim answers the same for a stale ``current_version``)."""


class UnprocessableEntity(FlyAPIError, status=422, message="unprocessable entity"):
    """422: the body is well formed but its values are refused."""


class RateLimited(FlyAPIError, status=429, message="rate limit exceeded"):
    """429: too many requests."""

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class InternalError(FlyAPIError, status=500, message="internal server error"):
    """500: the platform failed."""


class ServiceUnavailable(FlyAPIError, status=503, message="service unavailable"):
    """503: the platform is unavailable."""


class GatewayTimeout(FlyAPIError, status=504, message="gateway timeout"):
    """504: the platform did not answer in time."""
