"""The Morning Health Check's look back over the night (runbook: Daily Operations, "Review
overnight alerts"), pure.

The night runs from `night_starts` (default 18:00) yesterday, local time (the inventory's
timezone), to the check. Over it the check reads:

* metric peaks: the highest CPU, memory, p95 and 5xx ratio of each app (one range query per
  figure, hotdash_ops.monitor.metrics), set against the app's thresholds;
* every alert that fired, got worse or resolved (hotdash_ops.monitor.alert_history), and those
  still firing now;
* error lines (`fly logs | grep -i error`), paged through the logs API over the whole night
  (hotdash_ops.fly.logs): at most `max_pages` pages per app, and the last `error_lines` of
  them shown; the report says when either cap cut something off.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo

from pydantic import BaseModel, Field

from hotdash_ops.inventory import AppSpec
from hotdash_ops.models import LogEntry
from hotdash_ops.monitor.alert_history import AlertChange
from hotdash_ops.monitor.alert_state import AlertEntry
from hotdash_ops.monitor.log_review import error_lines
from hotdash_ops.monitor.metrics import AppMetrics

NIGHT_STARTS = time(18, 0)


def night_window(
    now: datetime, tz: tzinfo, starts: time = NIGHT_STARTS
) -> tuple[datetime, datetime]:
    """(start, end) in UTC: `starts` yesterday in `tz` until `now`."""
    local = now.astimezone(tz)
    start = datetime.combine(local.date() - timedelta(days=1), starts, tzinfo=tz)
    return start.astimezone(UTC), now.astimezone(UTC)


def step_seconds(start: datetime, end: datetime, points: int = 500) -> int:
    """A range query step giving about `points` samples (at least one a minute): a 15-hour
    night is 900 one-minute steps, far under Prometheus' 11,000 points per series."""
    return max(60, int((end - start).total_seconds() // points))


class ErrorReview(BaseModel):
    """One app's error lines over the night."""

    lines: list[LogEntry]  # the last `shown_cap` error lines
    error_count: int  # error lines found in what was read
    read: int  # log lines read
    pages: int
    complete: bool  # False: the page cap stopped the read before the end of the night
    shown_cap: int

    @classmethod
    def of(cls, entries: list[LogEntry], *, pages: int, complete: bool, cap: int) -> ErrorReview:
        errors = error_lines(entries, limit=len(entries))
        return cls(
            lines=errors[-cap:] if cap > 0 else [],
            error_count=len(errors),
            read=len(entries),
            pages=pages,
            complete=complete,
            shown_cap=cap,
        )

    def describe(self, max_pages: int) -> str:
        """`3 error lines in 412 log lines (5 pages)`, and what a cap cut off."""
        text = f"{self.error_count} error line(s) in {self.read} log lines ({self.pages} page(s))"
        if self.error_count > len(self.lines):
            text += f", the last {len(self.lines)} shown (cap {self.shown_cap})"
        if not self.complete:
            text += (
                f"; READ STOPPED at the cap of {max_pages} pages: the rest of the night was "
                "not read"
            )
        return text


class PeakCheck(BaseModel):
    """A figure's night peak against the app's threshold."""

    figure: str
    peak: float
    limit: float

    @property
    def over(self) -> bool:
        return self.peak > self.limit


def peak_checks(spec: AppSpec, metrics: AppMetrics | None) -> list[PeakCheck]:
    """The night's peaks that have a threshold, with it (5xx against the critical ratio)."""
    if metrics is None:
        return []
    t = spec.thresholds
    limits = {
        "cpu_pct": t.cpu_pct,
        "mem_pct": t.mem_pct,
        "p95_ms": t.response_ms,
        "error_rate": t.error_rate_crit,
    }
    return [
        PeakCheck(figure=f, peak=metrics.peaks[f], limit=limit)
        for f, limit in limits.items()
        if f in metrics.peaks
    ]


class NightReview(BaseModel):
    """What the night held: peaks, alerts, error lines."""

    start: datetime
    end: datetime
    peaks: dict[str, AppMetrics] = Field(default_factory=dict)
    peaks_errors: dict[str, str] = Field(default_factory=dict)  # figure -> why it is unknown
    alerts: list[AlertChange] = Field(default_factory=list)
    still_firing: list[AlertEntry] = Field(default_factory=list)
    history_unreadable: int = 0
    errors: dict[str, ErrorReview | str] = Field(default_factory=dict)  # str: could not read
    max_pages: int

    def over_thresholds(self, specs: list[AppSpec]) -> list[str]:
        """`hotdash-staging: cpu_pct peaked at 93.5 > 80`, for every peak over its limit."""
        out = []
        for spec in specs:
            for check in peak_checks(spec, self.peaks.get(spec.name)):
                if check.over:
                    out.append(
                        f"{spec.name}: {check.figure} peaked at {check.peak:.4g} > {check.limit:g}"
                    )
        return out
