"""Fly API errors, one class per status code (moto's ``exceptions.py``).

Every error renders Fly's body ``{"error": "<message>"}``::

    FlyAPIError
    ├── BadRequest            400
    ├── Unauthorized          401
    ├── NotFound              404
    ├── Conflict              409
    ├── UnprocessableEntity   422
    ├── RateLimited           429  (adds ``Retry-After``)
    ├── InternalError         500
    ├── ServiceUnavailable    503
    └── GatewayTimeout        504
"""

from __future__ import annotations

from starlette.responses import JSONResponse


class FlyAPIError(Exception):
    """An error the simulated Fly API answers with."""

    status_code = 500
    default_message = "internal server error"

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


class BadRequest(FlyAPIError):
    """400: the request is malformed or refused (e.g. shrinking a volume)."""

    status_code = 400
    default_message = "bad request"


class Unauthorized(FlyAPIError):
    """401: missing or wrong token."""

    status_code = 401
    default_message = "You must be authenticated to view this."


class NotFound(FlyAPIError):
    """404: no such app, machine, volume or path."""

    status_code = 404
    default_message = "not found"


class Conflict(FlyAPIError):
    """409: the resource is in a state that does not allow the change."""

    status_code = 409
    default_message = "conflict"


class UnprocessableEntity(FlyAPIError):
    """422: the body is well formed but its values are refused."""

    status_code = 422
    default_message = "unprocessable entity"


class RateLimited(FlyAPIError):
    """429: too many requests."""

    status_code = 429
    default_message = "rate limit exceeded"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class InternalError(FlyAPIError):
    """500: the platform failed."""

    status_code = 500
    default_message = "internal server error"


class ServiceUnavailable(FlyAPIError):
    """503: the platform is unavailable."""

    status_code = 503
    default_message = "service unavailable"


class GatewayTimeout(FlyAPIError):
    """504: the platform did not answer in time."""

    status_code = 504
    default_message = "gateway timeout"
