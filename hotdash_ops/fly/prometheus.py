"""Fly's managed Prometheus (`{base_url}/{org}/api/v1/query[_range]`), the metrics the alert
thresholds speak of. Queries are reads: retried like the other clients' reads."""

from __future__ import annotations

from datetime import datetime

import httpx

from hotdash_ops.fly.http import FlyHttpClient
from hotdash_ops.models import PromResult


class PrometheusClient(FlyHttpClient):
    """POSTs form-encoded PromQL and parses the Prometheus JSON answer."""

    def __init__(
        self,
        *,
        base_url: str,
        org: str,
        token: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        read_attempts: int = 4,
        backoff_seconds: float = 0.5,
    ) -> None:
        super().__init__(
            base_url=base_url,
            token=token,
            transport=transport,
            timeout=timeout,
            read_attempts=read_attempts,
            backoff_seconds=backoff_seconds,
        )
        self.org = org

    async def _query(self, endpoint: str, form: dict[str, str]) -> PromResult:
        # POST, not GET: fleet-wide queries with app=~"a|b|..." outgrow URL limits.
        response = await self._read("POST", f"/{self.org}/api/v1/{endpoint}", data=form)
        return PromResult.parse(response.json())

    async def query(self, promql: str, at: datetime | None = None) -> PromResult:
        """An instant query (`/api/v1/query`)."""
        form = {"query": promql}
        if at is not None:
            form["time"] = f"{at.timestamp():.3f}"
        return await self._query("query", form)

    async def query_range(
        self, promql: str, start: datetime, end: datetime, step_seconds: int
    ) -> PromResult:
        """A range query (`/api/v1/query_range`): one matrix series per label set."""
        form = {
            "query": promql,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": str(step_seconds),
        }
        return await self._query("query_range", form)
