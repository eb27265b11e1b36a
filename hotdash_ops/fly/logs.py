"""Fly's logs API (`GET {base}/api/v1/apps/{app}/logs`): the overnight error review's source.

Undocumented but what `fly logs --no-tail` uses; answers the most recent logs (≤ 24 h).
"""

from __future__ import annotations

from urllib.parse import quote

from hotdash_ops.fly.http import FlyHttpClient
from hotdash_ops.models import LogEntry, parse_logs_api
from hotdash_ops.validation import app_name


class LogsClient(FlyHttpClient):
    """Reads recent log entries of an app."""

    async def recent(
        self, app: str, *, limit: int = 100, region: str | None = None
    ) -> list[LogEntry]:
        """The newest `limit` entries, oldest first (like `fly logs -a APP --no-tail`)."""
        app_name(app)
        params = {"region": region} if region else {}
        body = await self._get_json(f"/api/v1/apps/{quote(app, safe='')}/logs", params=params)
        entries = parse_logs_api(body)
        return entries[-limit:] if limit > 0 else []
