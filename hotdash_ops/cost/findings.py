"""Weekly Cost Review: unused resources and what to do about them, each with its saving.

Findings (what is unused, and what it costs per month):

* an unattached volume (billed attached or not);
* a machine stopped for more than `stopped_days` days (pays its root filesystem);
* a background service whose machines do not auto-stop;
* an app with no machines (its volumes, if any, still cost money).

Recommendations (each names the flow that applies it and that flow's parameters):

* delete an unattached volume -> `manage-volumes` (action delete-unused);
* enable auto-stop on a background service -> `enable-auto-stop` (saving as that flow
  estimates it);
* scale a machine size down when the week's CPU peak stayed under `cpu_low_pct` and the
  memory peak under `mem_low_pct` -> `scale-app` (vm_size, memory_mb). One step down: half
  the CPUs (the next smaller preset) and half the memory, so a 20 % CPU / 40 % memory peak
  becomes at most about 40 % / 80 %, under the runbook's 80 % / 85 % alert thresholds;
* destroy a machine stopped for long -> no flow (a person checks it is not a standby first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from hotdash_ops.cost import autostop
from hotdash_ops.cost.estimate import machine_frame, price_machines, price_volumes, volume_frame
from hotdash_ops.cost.pricing import PriceTable
from hotdash_ops.models import Machine, PromResult, Volume
from hotdash_ops.models.vm import MEMORY_RULES, VM_PRESETS

FindingKind = Literal["unattached-volume", "stopped-machine", "no-autostop", "no-machines"]
RecommendationKind = Literal["delete-volume", "enable-auto-stop", "scale-down", "destroy-machine"]


class Finding(BaseModel):
    """An unused or idle resource and what it costs per month."""

    kind: FindingKind
    app: str
    target: str  # volume id, machine id, or the app
    detail: str
    monthly_cost: float = 0.0


class Recommendation(BaseModel):
    """Something to do, what it saves per month, and the flow (with parameters) that does it."""

    kind: RecommendationKind
    app: str
    target: str
    saving: float
    action: str  # what a person reads
    flow: str | None = None  # deployment that applies it; None: done by hand
    parameters: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """Identifies the same recommendation across weeks."""
        return f"{self.kind}:{self.app}:{self.target}"


class WeekUsage(BaseModel):
    """An app's CPU and memory over the week (percent); None: Prometheus had no data."""

    app: str
    cpu_mean: float | None = None
    cpu_peak: float | None = None
    mem_mean: float | None = None
    mem_peak: float | None = None


class ReviewRules(BaseModel):
    """The review's knobs (flow parameters)."""

    stopped_days: int = Field(7, ge=0, description="flag machines stopped longer than this")
    cpu_low_pct: float = Field(20.0, gt=0, le=100, description="week CPU peak counted as low")
    mem_low_pct: float = Field(40.0, gt=0, le=100, description="week memory peak counted as low")
    idle_share: float = Field(
        autostop.DEFAULT_IDLE_SHARE, ge=0, le=1, description="expected idle share for auto-stop"
    )


def week_usage(
    cpu: PromResult | None, mem: PromResult | None, apps: Iterable[str]
) -> dict[str, WeekUsage]:
    """Mean and peak of each app's finite samples in the CPU and memory range answers."""
    out = {app: WeekUsage(app=app) for app in apps}
    for result, prefix in ((cpu, "cpu"), (mem, "mem")):
        if result is None:
            continue
        for app, series in result.by_label("app").items():
            values = series.finite_values()
            if app in out and values:
                out[app] = out[app].model_copy(
                    update={
                        f"{prefix}_mean": sum(values) / len(values),
                        f"{prefix}_peak": max(values),
                    }
                )
    return out


def smaller_size(cpu_kind: str, cpus: int, memory_mb: int) -> tuple[str, int] | None:
    """One step down: the next smaller preset of the same kind and half the memory (within
    the size's memory rules); None when the machine is already the smallest it can be."""
    sizes = sorted(
        ((name, g) for name, g in VM_PRESETS.items() if g.cpu_kind == cpu_kind),
        key=lambda item: item[1].cpus,
    )
    if not sizes or cpu_kind not in MEMORY_RULES:
        return None
    low, high, step = MEMORY_RULES[cpu_kind]
    current = [item for item in sizes if item[1].cpus == cpus]
    smaller = [item for item in sizes if item[1].cpus < cpus]
    name, guest = smaller[-1] if smaller else (current[0] if current else (None, None))
    if name is None or guest is None:
        return None
    memory = (memory_mb // 2) // step * step
    memory = min(max(memory, low * guest.cpus), high * guest.cpus)
    if guest.cpus == cpus and memory >= memory_mb:
        return None
    return name, memory


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _unattached(volumes: pd.DataFrame) -> list[Finding]:
    return [
        Finding(
            kind="unattached-volume",
            app=str(r["app"]),
            target=str(r["volume_id"]),
            detail=(
                f"volume {r['name']} ({r['size_gb']} GB, {r['region']}) is attached to no machine"
            ),
            monthly_cost=float(r["monthly"]),
        )
        for r in _records(volumes[~volumes["attached"]])
    ]


def _long_stopped(machines: pd.DataFrame, now: datetime, days: int) -> list[Finding]:
    cutoff = now - timedelta(days=days)
    out = []
    for r in _records(machines[machines["rootfs"] > 0]):
        since = r["stopped_since"]
        if not isinstance(since, datetime) or pd.isna(since) or since > cutoff:
            continue
        age = (now - since).total_seconds() / 86400
        out.append(
            Finding(
                kind="stopped-machine",
                app=str(r["app"]),
                target=str(r["machine_id"]),
                detail=f"machine {r['machine_id']} ({r['region']}) {r['state']} for {age:.1f} days",
                monthly_cost=float(r["rootfs"]),
            )
        )
    return out


def assess(
    machines: Mapping[str, Sequence[Machine]],
    volumes: Mapping[str, Sequence[Volume]],
    apps: Iterable[str],
    background_apps: Iterable[str],
    prices: PriceTable,
    *,
    now: datetime,
    rules: ReviewRules | None = None,
    usage: Mapping[str, WeekUsage] | None = None,
) -> tuple[list[Finding], list[Recommendation]]:
    """The review's unused resources and recommendations for the apps that could be read."""
    rules = rules or ReviewRules()
    usage = usage or {}
    names = [a for a in dict.fromkeys(apps) if a in machines]
    m = price_machines(machine_frame({a: machines[a] for a in names}), prices)
    v = price_volumes(volume_frame({a: volumes.get(a, []) for a in names}), prices)
    findings: list[Finding] = []
    recs: list[Recommendation] = []

    for f in _unattached(v):
        findings.append(f)
        recs.append(
            Recommendation(
                kind="delete-volume",
                app=f.app,
                target=f.target,
                saving=f.monthly_cost,
                action=f"delete unattached volume {f.target}",
                flow="manage-volumes",
                parameters={"action": "delete-unused", "app": f.app, "dry_run": False},
            )
        )

    for f in _long_stopped(m, now, rules.stopped_days):
        findings.append(f)
        recs.append(
            Recommendation(
                kind="destroy-machine",
                app=f.app,
                target=f.target,
                saving=f.monthly_cost,
                action=(
                    f"if it is no standby: `fly machine destroy {f.target} -a {f.app}` "
                    "(by hand, after checking)"
                ),
            )
        )

    live = m[m["monthly"] > 0]
    for app in names:
        if live[live["app"] == app].empty:
            cost = float(v.loc[v["app"] == app, "monthly"].sum())
            findings.append(
                Finding(
                    kind="no-machines",
                    app=app,
                    target=app,
                    detail=f"{app} has no machines" + (" but keeps volumes" if cost else ""),
                    monthly_cost=cost,
                )
            )

    background = set(background_apps)
    for app in names:
        if app not in background:
            continue
        served = [x for x in machines[app] if x.config is not None and x.config.services]
        if not served:
            continue
        off = [
            x.id
            for x in served
            if any(s.autostop not in ("stop", "suspend") for s in x.config.services)  # type: ignore[union-attr]
        ]
        if not off:
            continue
        running_cost = float(live.loc[live["app"] == app, "compute"].sum())
        saving = autostop.estimated_saving(machines[app], prices, 0, rules.idle_share)
        findings.append(
            Finding(
                kind="no-autostop",
                app=app,
                target=app,
                detail=f"background service without auto-stop on {len(off)} machine(s)",
                monthly_cost=running_cost,
            )
        )
        recs.append(
            Recommendation(
                kind="enable-auto-stop",
                app=app,
                target=app,
                saving=saving,
                action=(
                    "enable auto-stop (autostop=stop, autostart=true, min_machines_running=0); "
                    f"saving assumes idle {rules.idle_share:.0%} of the time"
                ),
                flow="enable-auto-stop",
                parameters={"apps": [app], "min_machines_running": 0, "dry_run": False},
            )
        )

    recs.extend(_scale_down(m, usage, prices, rules))
    return findings, recs


def _scale_down(
    machines: pd.DataFrame,
    usage: Mapping[str, WeekUsage],
    prices: PriceTable,
    rules: ReviewRules,
) -> list[Recommendation]:
    out = []
    running = machines[machines["running"]]
    for app, group in running.groupby("app", sort=True):
        u = usage.get(str(app))
        if u is None or u.cpu_peak is None or u.mem_peak is None:
            continue  # no data is no evidence of low use
        if u.cpu_peak > rules.cpu_low_pct or u.mem_peak > rules.mem_low_pct:
            continue
        guests = group[["cpu_kind", "cpus", "memory_mb"]].drop_duplicates()
        if len(guests) != 1:
            continue  # `fly scale vm` sets one size for all: mixed sizes need a person
        kind, cpus, memory = guests.iloc[0]
        step = smaller_size(str(kind), int(cpus), int(memory))
        if step is None:
            continue
        size, new_memory = step
        preset = VM_PRESETS[size]
        smaller = group.assign(cpus=preset.cpus, memory_mb=new_memory, cpu_kind=preset.cpu_kind)
        smaller_cost = float(price_machines(smaller, prices)["compute"].sum())
        saving = float(group["compute"].sum()) - smaller_cost
        out.append(
            Recommendation(
                kind="scale-down",
                app=str(app),
                target=str(app),
                saving=saving,
                action=(
                    f"scale {len(group)} machine(s) from {kind} {cpus} CPU / {memory} MB to "
                    f"{size} / {new_memory} MB (week peak CPU {u.cpu_peak:.0f} %, "
                    f"memory {u.mem_peak:.0f} %)"
                ),
                flow="scale-app",
                parameters={"app": str(app), "vm_size": size, "memory_mb": new_memory},
            )
        )
    return out
