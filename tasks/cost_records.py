"""The cost flows' files under the state folder: snapshots (one per weekly review), the audit
log they are compared with, the monthly chart, and the link artifact that points at it."""

from __future__ import annotations

import asyncio

import pandas as pd
from prefect import task
from prefect.artifacts import acreate_link_artifact
from prefect.cache_policies import NO_CACHE

from hotdash_ops.audit import AuditLog, AuditRecord
from hotdash_ops.cost.chart import render_cost_chart
from hotdash_ops.cost.snapshots import (
    CostSnapshot,
    SnapshotSet,
    load_snapshots,
    save_snapshot,
    snapshot_dir,
)
from tasks import fly_access
from tasks.reports import reports_dir


@task(name="load-cost-snapshots", cache_policy=NO_CACHE)
async def load_cost_snapshots() -> SnapshotSet:
    """Every weekly snapshot under `<state>/cost-snapshots/`, oldest first."""
    return load_snapshots(snapshot_dir(fly_access.settings().hotdash_state_dir))


@task(name="save-cost-snapshot", cache_policy=NO_CACHE)
async def save_cost_snapshot(snapshot: CostSnapshot) -> str:
    """One JSON file per review (what next week's change is computed against)."""
    return str(save_snapshot(snapshot_dir(fly_access.settings().hotdash_state_dir), snapshot))


@task(name="read-audit-log", cache_policy=NO_CACHE)
async def read_audit_log() -> list[AuditRecord]:
    """The audit log's records (which recommendations were acted on)."""
    return AuditLog(fly_access.settings().hotdash_state_dir / "audit.jsonl").records()


@task(name="draw-cost-chart", cache_policy=NO_CACHE)
async def draw_cost_chart(trend: pd.DataFrame, name: str, title: str, currency: str) -> str:
    """The PNG chart of cost by app, written to `<state>/reports/<name>.png`."""
    path = reports_dir() / f"{name}.png"
    await asyncio.to_thread(render_cost_chart, trend, path, title=title, currency=currency)
    return str(path)


@task(name="publish-link", cache_policy=NO_CACHE)
async def publish_link(key: str, link: str, text: str, description: str | None = None) -> None:
    """A link artifact under a stable key."""
    await acreate_link_artifact(link=link, link_text=text, key=key, description=description)
