"""Cost snapshots: one JSON file per weekly review under `<state>/cost-snapshots/`, and what
is read back from them (the week-over-week change, the month's trend, recommendations taken).

The baseline of "last week" is the newest complete snapshot at least `MIN_BASELINE_AGE` old
(six days, so a Friday run finds last Friday's even if that one ran late); when there is none
(the first weeks, or only runs from today) the newest earlier complete snapshot is used. The
report always names the baseline's date, so a reader knows what the change is against.
Snapshots of runs that could not read every app are kept but never used as a baseline.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import BaseModel, Field, ValidationError

from hotdash_ops.audit import AuditRecord
from hotdash_ops.cost.estimate import CostEstimate
from hotdash_ops.cost.findings import Finding, Recommendation
from hotdash_ops.local_time import shown

SNAPSHOT_DIR = "cost-snapshots"
MIN_BASELINE_AGE = timedelta(days=6)


def utcnow() -> datetime:
    """The clock the cost flows use (tests move it by a week)."""
    return datetime.now(UTC)


class CostSnapshot(BaseModel):
    """What one weekly review found."""

    taken_at: datetime
    org: str
    estimate: CostEstimate
    findings: list[Finding] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.estimate.complete


class SnapshotSet(BaseModel):
    """Snapshots read from the folder, oldest first, and the files that could not be read."""

    snapshots: list[CostSnapshot] = Field(default_factory=list)
    unreadable: list[str] = Field(default_factory=list)


def snapshot_dir(state_dir: Path) -> Path:
    return Path(state_dir) / SNAPSHOT_DIR


def save_snapshot(directory: Path, snapshot: CostSnapshot) -> Path:
    """Write the snapshot atomically (a reader never sees half a file); returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = snapshot.taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H%M%S.%fZ")
    path = directory / f"cost-{stamp}.json"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".cost-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(snapshot.model_dump_json(indent=1))
    os.replace(tmp, path)
    return path


def load_snapshots(directory: Path) -> SnapshotSet:
    """Every snapshot in the folder, oldest first."""
    out = SnapshotSet()
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("cost-*.json")):
        try:
            out.snapshots.append(CostSnapshot.model_validate_json(path.read_text("utf-8")))
        except (OSError, ValidationError, json.JSONDecodeError) as exc:
            out.unreadable.append(f"{path.name}: {type(exc).__name__}")
    out.snapshots.sort(key=lambda s: s.taken_at)
    return out


def baseline(snapshots: Sequence[CostSnapshot], now: datetime) -> CostSnapshot | None:
    """Last week's snapshot to compare with (see the module docstring)."""
    earlier = [s for s in snapshots if s.complete and s.taken_at < now]
    week_old = [s for s in earlier if now - s.taken_at >= MIN_BASELINE_AGE]
    pool = week_old or earlier
    return max(pool, key=lambda s: s.taken_at) if pool else None


class AppChange(BaseModel):
    """One app's monthly estimate now and at the baseline (None: unknown, could not be read)."""

    app: str
    previous: float | None
    current: float | None
    change: float | None
    change_pct: float | None  # None when there is nothing to divide by
    status: Literal["", "new", "gone"] = ""  # new: not in the baseline; gone: not in this run


class CostChange(BaseModel):
    """Week-over-week change per app and in total."""

    baseline_at: datetime | None = None
    apps: list[AppChange] = Field(default_factory=list)
    previous_total: float | None = None
    total_change: float | None = None
    total_change_pct: float | None = None


def _pct(change: float, previous: float) -> float | None:
    return 100.0 * change / previous if previous else None


def week_over_week(current: CostEstimate, previous: CostSnapshot | None) -> CostChange:
    """The change of each app (and the total) against the baseline snapshot."""
    if previous is None:
        return CostChange(
            apps=[
                AppChange(
                    app=a.app,
                    previous=None,
                    current=None if a.error else a.total,
                    change=None,
                    change_pct=None,
                )
                for a in current.apps
            ]
        )
    before = {a.app: a for a in previous.estimate.apps}
    now = current.by_app()
    rows = []
    for app in list(now) + [a for a in before if a not in now]:
        cur, old = now.get(app), before.get(app)
        # A new app cost nothing a week ago; a gone one costs nothing now.
        cur_total = 0.0 if cur is None else (None if cur.error else cur.total)
        old_total = 0.0 if old is None else (None if old.error else old.total)
        change = None if cur_total is None or old_total is None else cur_total - old_total
        rows.append(
            AppChange(
                app=app,
                previous=old_total,
                current=cur_total,
                change=change,
                change_pct=None if change is None or old_total is None else _pct(change, old_total),
                status="new" if old is None else ("gone" if cur is None else ""),
            )
        )
    total_change = current.total - previous.estimate.total if current.complete else None
    return CostChange(
        baseline_at=previous.taken_at,
        apps=rows,
        previous_total=previous.estimate.total,
        total_change=total_change,
        total_change_pct=(
            None if total_change is None else _pct(total_change, previous.estimate.total)
        ),
    )


# -- the monthly report ------------------------------------------------------------------


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """`YYYY-MM` -> [start, end) in the given time zone, as aware datetimes."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"month: {month!r} is not a month like 2025-10") from None
    zone = ZoneInfo(tz)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (
        datetime(first.year, first.month, 1, tzinfo=zone),
        datetime(nxt.year, nxt.month, 1, tzinfo=zone),
    )


def previous_month(now: datetime, tz: str) -> str:
    """The month before `now` in the time zone (the report on the 1st covers the month past)."""
    local = now.astimezone(ZoneInfo(tz))
    last = local.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def in_month(snapshots: Iterable[CostSnapshot], month: str, tz: str) -> list[CostSnapshot]:
    start, end = month_bounds(month, tz)
    return [s for s in snapshots if start <= s.taken_at < end]


def month_trend(snapshots: Sequence[CostSnapshot], tz: str) -> pd.DataFrame:
    """Apps x snapshot dates (local `YYYY-MM-DD`) of monthly estimates; NaN: unknown or absent.
    A `TOTAL` row sums the known figures of complete snapshots."""
    zone = ZoneInfo(tz)
    records = [
        {
            "date": s.taken_at.astimezone(zone).strftime("%Y-%m-%d"),
            "app": a.app,
            "total": (float("nan") if a.error else a.total),
        }
        for s in snapshots
        for a in s.estimate.apps
    ]
    if not records:
        return pd.DataFrame()
    frame = pd.DataFrame(records)
    # Two runs on one day: the later one stands for the day.
    trend = frame.pivot_table(index="app", columns="date", values="total", aggfunc="last")
    totals = {
        s.taken_at.astimezone(zone).strftime("%Y-%m-%d"): (
            s.estimate.total if s.complete else float("nan")
        )
        for s in snapshots
    }
    trend.loc["TOTAL"] = pd.Series(totals)
    return trend


Outcome = Literal["taken", "resolved", "left"]

# Audit actions that carry out each kind of recommendation.
ACTIONS: dict[str, tuple[str, ...]] = {
    "delete-volume": ("volume.delete",),
    "enable-auto-stop": ("autostop.enable", "scale.services"),
    "scale-down": ("scale.vm",),
    "destroy-machine": ("machine.destroy", "scale.count"),
}


class RecommendationOutcome(BaseModel):
    """A recommendation of the month: first seen, and whether it was taken."""

    recommendation: Recommendation
    first_seen: datetime
    outcome: Outcome
    evidence: str


def _matches(rec: Recommendation, record: AuditRecord) -> bool:
    if record.action not in ACTIONS.get(rec.kind, ()) or record.target != rec.app:
        return False
    if record.detail.get("outcome") == "failed":
        return False
    if rec.target == rec.app:
        return True
    return rec.target in json.dumps(record.detail)


def recommendation_outcomes(
    month: Sequence[CostSnapshot],
    latest: CostSnapshot | None,
    audit_records: Sequence[AuditRecord],
    tz: str = "UTC",
) -> list[RecommendationOutcome]:
    """Each distinct recommendation of the month's snapshots: taken (an audited action after it
    was first made), resolved (gone from the latest snapshot without one), or left. Times in
    `tz` (the inventory's timezone)."""
    first: dict[str, tuple[Recommendation, datetime]] = {}
    for snap in sorted(month, key=lambda s: s.taken_at):
        for rec in snap.recommendations:
            first.setdefault(rec.key, (rec, snap.taken_at))
    still = {r.key for r in latest.recommendations} if latest else set()
    out = []
    for key, (rec, seen) in first.items():
        taken = [
            r for r in audit_records if _matches(rec, r) and datetime.fromisoformat(r.ts) >= seen
        ]
        if taken:
            r = taken[0]
            outcome: Outcome = "taken"
            evidence = f"{r.action} by {r.actor} at {shown(datetime.fromisoformat(r.ts), tz)}"
        elif key not in still:
            outcome = "resolved"
            when = f"{latest.taken_at.astimezone(ZoneInfo(tz)):%Y-%m-%d}" if latest else "?"
            evidence = f"no longer recommended on {when} (no audited action found)"
        else:
            outcome = "left"
            evidence = "still recommended in the latest review"
        out.append(
            RecommendationOutcome(
                recommendation=rec, first_seen=seen, outcome=outcome, evidence=evidence
            )
        )
    return out
