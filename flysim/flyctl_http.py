"""``flysim-fly``'s HTTP to a flysim server, with flyctl's token rules and error messages.

urllib, not httpx: a short-lived process starts faster without it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

DEFAULT_HOST = "http://127.0.0.1:4280"
MACAROON_PREFIXES = ("fm1r_", "fm1a_", "fm2_")
NONCE_HEADER = "fly-machine-lease-nonce"


class CLIError(Exception):
    """Printed as ``Error: <message>``; exit status 1."""


class APIError(CLIError):
    """The API answered an error status (kept for callers that react to it)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def auth_header(token: str) -> str:
    """flyctl's rule: keep an explicit scheme; FlyV1 for macaroons; Bearer otherwise."""
    token = token.strip()
    if token.startswith(("FlyV1 ", "Bearer ")):
        return token
    if token.startswith(MACAROON_PREFIXES):
        return f"FlyV1 {token}"
    return f"Bearer {token}"


def token_from_env(flag: str | None = None) -> str | None:
    """``--access-token``, else ``FLY_ACCESS_TOKEN``, else ``FLY_API_TOKEN``: the order flyctl
    reads them (superfly/flyctl@ad0172fa internal/config/config.go ``applyEnv``:
    ``env.First(AccessTokenEnvKey, APITokenEnvKey)``, the flag applied after)."""
    return flag or os.environ.get("FLY_ACCESS_TOKEN") or os.environ.get("FLY_API_TOKEN")


class Client:
    """HTTP to the flysim server, mapping errors to flyctl's messages."""

    def __init__(self, token: str | None = None) -> None:
        token = token_from_env(token)
        if not token:
            raise CLIError("No access token available. Please login with 'flyctl auth login'")
        self.base = (os.environ.get("FLY_API_HOSTNAME") or DEFAULT_HOST).rstrip("/")
        self.timeout = float(os.environ.get("FLYSIM_CLI_TIMEOUT", "90"))
        self.headers = {"Authorization": auth_header(token), "User-Agent": "flysim-fly/0.2"}

    def call(
        self,
        method: str,
        path: str,
        app: str | None = None,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        nonce: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        url = self.base + path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self.headers)
        if nonce:
            headers[NONCE_HEADER] = nonce
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        limit = self.timeout if timeout is None else timeout
        try:
            with urllib.request.urlopen(request, timeout=limit) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except TimeoutError:
            raise CLIError(f"timed out waiting for {url}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise CLIError(f"timed out waiting for {url}") from None
            raise CLIError(f"failed to reach the Fly API at {self.base}: {exc.reason}") from None
        if status >= 400:
            try:
                message = json.loads(raw).get("error") or raw.decode()
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace") or f"HTTP {status}"
            if status == 404 and app and "Could not find App" in str(message):
                message = f'Could not find App "{app}"'
            raise APIError(str(message), status)
        return json.loads(raw) if raw else None
