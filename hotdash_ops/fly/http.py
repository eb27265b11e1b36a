"""The HTTP plumbing the Machines, Prometheus and logs clients share.

Reads retry with exponential backoff (tenacity) on 429, 5xx, timeouts and connection errors,
then raise `FlyRateLimited` / `FlyUnavailable`. Mutations are sent once: a retried POST whose
first attempt did land could apply twice, so the caller decides.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from hotdash_ops.errors import FlyRateLimited, FlyUnavailable, raise_for_fly_status
from hotdash_ops.fly.auth import authorization_header
from hotdash_ops.tls import tls_context

_USER_AGENT = "hotdash-ops/0.1"


class FlyHttpClient:
    """An `httpx.AsyncClient` with Fly's auth header, one error mapping, and read retries."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        read_attempts: int = 4,
        backoff_seconds: float = 0.5,
    ) -> None:
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = authorization_header(token)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            verify=tls_context(),
        )
        self.read_attempts = max(1, read_attempts)
        self.backoff_seconds = backoff_seconds

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _send_once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; transport failures become FlyUnavailable, HTTP errors FlyError."""
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise FlyUnavailable(f"{method} {url}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise FlyUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        raise_for_fly_status(response)
        return response

    async def _read(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """An idempotent request, retried on rate limits and unavailability."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.read_attempts),
            wait=wait_exponential(multiplier=self.backoff_seconds, max=30 * self.backoff_seconds),
            retry=retry_if_exception_type((FlyRateLimited, FlyUnavailable)),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(method, url, **kwargs)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _get_json(self, url: str, **kwargs: Any) -> Any:
        """GET with retries, JSON body."""
        return (await self._read("GET", url, **kwargs)).json()

    async def _mutate_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """A mutation: sent exactly once, never retried here."""
        response = await self._send_once(method, url, **kwargs)
        return response.json() if response.content else None
