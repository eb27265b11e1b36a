"""Fly's logs API (`GET {base}/api/v1/apps/{app}/logs`): the error review's and `app-logs`' source.

Undocumented but what `fly logs` uses (docs monitoring/logs-api-options, docs/fly.md "Logs"):
without `next_token` it answers the most recent 100 entries; with `next_token` (a nanosecond
Unix time) the entries after that time, and `meta.next_token` to ask for the next page. So a
time range is read by starting at its beginning and paging forward to its end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from hotdash_ops import validation
from hotdash_ops.fly.http import FlyHttpClient
from hotdash_ops.models import LogEntry, parse_logs_api, parse_logs_page

MAX_PAGES = 50  # 100 entries each: what one read of a time range costs at most


class LogWindow(BaseModel):
    """The entries of a time range, oldest first, and whether all of it was read."""

    entries: list[LogEntry]
    pages: int
    complete: bool  # False: `max_pages` was reached before the end of the range

    def describe(self, max_pages: int) -> str:
        """`312 lines over 4 pages` or `5000 lines, stopped at the cap of 50 pages`."""
        if self.complete:
            return f"{len(self.entries)} log lines read over {self.pages} page(s)"
        return (
            f"{len(self.entries)} log lines read, stopped at the cap of {max_pages} pages "
            "(later lines of the range not read)"
        )


def _ns(at: datetime) -> str:
    return str(int(at.timestamp() * 1_000_000_000))


class LogsClient(FlyHttpClient):
    """Reads recent log entries of an app."""

    def _path(self, app: str) -> str:
        return f"/api/v1/apps/{quote(validation.app_name(app), safe='')}/logs"

    @staticmethod
    def _filters(region: str | None, instance: str | None) -> dict[str, str]:
        params = {}
        if region:
            params["region"] = validation.region(region)
        if instance:
            params["instance"] = validation.machine_id(instance, "instance")
        return params

    async def recent(
        self, app: str, *, limit: int = 100, region: str | None = None
    ) -> list[LogEntry]:
        """The newest `limit` entries, oldest first (like `fly logs -a APP --no-tail`)."""
        body = await self._get_json(self._path(app), params=self._filters(region, None))
        entries = parse_logs_api(body)
        return entries[-limit:] if limit > 0 else []

    async def between(
        self,
        app: str,
        start: datetime,
        end: datetime,
        *,
        max_pages: int = MAX_PAGES,
        region: str | None = None,
        instance: str | None = None,
    ) -> LogWindow:
        """Every entry from `start` to `end` (like `fly logs -a APP` over that time), paged
        forward with `next_token` from `start`; at most `max_pages` requests."""
        path = self._path(app)
        filters = self._filters(region, instance)
        token = _ns(start)
        entries: list[LogEntry] = []
        for page in range(1, max_pages + 1):
            params: dict[str, Any] = {**filters, "next_token": token}
            found, next_token = parse_logs_page(await self._get_json(path, params=params))
            inside = [e for e in found if e.timestamp is None or start <= e.timestamp <= end]
            entries.extend(inside)
            past_end = any(e.timestamp is not None and e.timestamp > end for e in found)
            if not found or past_end or next_token is None or next_token == token:
                return LogWindow(entries=entries, pages=page, complete=True)
            token = next_token
        return LogWindow(entries=entries, pages=max_pages, complete=False)
