"""Errors raised when talking to Fly.io, by API or by flyctl.

The tree::

    FlyError                 anything Fly answered with (or failed to answer)
    ├── FlyBadRequest        400 / 422: the request itself is wrong
    ├── FlyAuthError         401 / 403: token missing, wrong or without access
    ├── FlyNotFound          404: no such app, machine or volume
    ├── FlyConflict          409 / 412: lease held, version mismatch
    ├── FlyRateLimited       429: slow down (reads retry first)
    ├── FlyUnavailable       5xx, timeouts, connection errors (reads retry first)
    └── FlyctlError          the flyctl command exited non-zero or timed out

`raise_for_fly_status` is the one place an HTTP answer becomes one of these.
"""

from __future__ import annotations

import json

import httpx


class FlyError(Exception):
    """Base class: Fly.io refused or failed a request."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status})" if self.status is not None else self.message


class FlyBadRequest(FlyError):
    """400/422: Fly rejected the request as malformed or invalid."""


class FlyAuthError(FlyError):
    """401/403: the token is missing, invalid, or lacks access to this resource."""


class FlyNotFound(FlyError):
    """404: the app, machine or volume does not exist."""


class FlyConflict(FlyError):
    """409/412: a lease is held or the resource changed underneath us."""


class FlyRateLimited(FlyError):
    """429: Fly's rate limit was hit (and retries, for reads, did not help)."""


class FlyUnavailable(FlyError):
    """5xx, timeout or connection failure: Fly could not answer now."""


class FlyctlError(FlyError):
    """The flyctl command exited non-zero or timed out (stderr and argv are redacted).
    `fly_says` is what Fly recorded afterwards (e.g. "release v5 interrupted"), when the
    caller read it."""

    def __init__(self, message: str, *, exit_code: int, stderr: str, argv: list[str]) -> None:
        super().__init__(message, status=None)
        self.exit_code = exit_code
        self.stderr = stderr
        self.argv = argv
        self.fly_says: str | None = None

    def __str__(self) -> str:
        return f"{self.message} (exit {self.exit_code}): {self.stderr.strip()[-2000:]}"


def _error_text(response: httpx.Response) -> str:
    """Fly's `{"error": "..."}` text when present, else the (short) body, else the reason."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip()
        return text[:500] if text else response.reason_phrase
    if isinstance(body, dict):
        for key in ("error", "message", "errors"):
            if body.get(key):
                return str(body[key])
    return response.text[:500]


def raise_for_fly_status(response: httpx.Response) -> None:
    """Raise the matching `FlyError` for a non-2xx answer; do nothing for 2xx/3xx."""
    status = response.status_code
    if status < 400:
        return
    text = f"{response.request.method} {response.request.url.path}: {_error_text(response)}"
    cls: type[FlyError]
    if status in (401, 403):
        cls = FlyAuthError
    elif status == 404:
        cls = FlyNotFound
    elif status in (409, 412):
        cls = FlyConflict
    elif status == 429:
        cls = FlyRateLimited
    elif status >= 500 or status == 408:
        # 408 is the machines /wait timeout: "not ready yet", which is an availability problem.
        cls = FlyUnavailable
    else:
        cls = FlyBadRequest
    raise cls(text, status=status)
