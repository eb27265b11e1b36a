"""Cost Management / Enable Auto-Stop (Background Services), on demand.

The runbook's `fly scale count 1 --max-per-region 1` + `fly autoscale set min=0 max=1` for the
agent service and the LlamaIndex MCP. `fly autoscale` is gone; its replacement is Fly Proxy's
auto-stop on the app's services: `autostop: stop`, `autostart: true`, `min_machines_running: N`
(docs/fly.md, "Auto-stop").

A dry run (the default) changes nothing: it shows, machine by machine and service by service,
the settings before and after, and the estimated monthly saving. Applying runs per app under
the app's lock, reads the machines again there, and deploys a release carrying the app config
with the settings (the running image; flyctl rolls it one machine at a time, so the next
deploy keeps the settings: tasks/autostop.py); an app already set as asked is left alone (a
re-run is a no-op). Audited, and read back.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from pydantic import Field

from hotdash_ops.cost import autostop
from hotdash_ops.cost.pricing import load_prices
from hotdash_ops.cost.report import money
from hotdash_ops.operator_input import Requester
from hotdash_ops.run_forms import InventoryApp, optional
from tasks import fly_access
from tasks.autostop import AutoStopResult, apply_autostop
from tasks.fleet_reads import read_machines
from tasks.reports import publish_markdown

ARTIFACT_KEY = "enable-auto-stop"


def render_plans(plans: list[autostop.AutoStopPlan], *, dry_run: bool) -> str:
    """The exact changes, machine by machine, and the saving."""
    total = sum(p.saving for p in plans)
    verb = "would change" if dry_run else "changes"
    lines = [
        f"# Enable auto-stop{' (dry run: nothing changed)' if dry_run else ''}",
        "",
        f"Estimated saving: **{money(total)} per month** (each machine newly allowed to stop "
        f"pays its root filesystem instead of compute while idle; idle share assumed "
        f"{plans[0].idle_share:.0%})."
        if plans
        else "No apps.",
        "",
        "| app | machine | state | service port | before | after |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in plans:
        for m in p.machines:
            if m.skipped:
                lines.append(f"| {p.app} | {m.machine_id} | {m.state} | | skipped: {m.skipped} | |")
            elif m.configured:
                lines.append(
                    f"| {p.app} | {m.machine_id} | {m.state} | | already set | no change |"
                )
            for c in m.changes:
                lines.append(
                    f"| {p.app} | {m.machine_id} | {m.state} | {c.internal_port} | "
                    f"{c.before.text()} | {c.after.text()} |"
                )
    lines += ["", "| app | machines that " + verb + " | saving / month |", "| --- | ---: | ---: |"]
    lines += [f"| {p.app} | {len(p.to_change)} | {money(p.saving)} |" for p in plans]
    return "\n".join(lines) + "\n"


@flow(name="enable-auto-stop", log_prints=False)
async def enable_auto_stop(
    apps: Annotated[list[InventoryApp], Field(max_length=100)] = (),
    dry_run: bool = True,
    requested_by: optional(Requester) = "",
    min_machines_running: Annotated[int, Field(ge=0, le=100)] = 0,
    idle_share_pct: Annotated[float, Field(ge=0, le=100)] = 50.0,
) -> State:
    """Set auto-stop on every machine's services of the chosen apps.

    Args:
        apps: the apps; none chosen: the inventory's background services
        dry_run: only show the exact changes and the saving (default); off applies them
        requested_by: who asks (audit log); empty: this flow run
        min_machines_running: machines Fly Proxy keeps running per app (0 = all may stop)
        idle_share_pct: (expert) expected idle share of the time, for the saving estimate
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    prices = load_prices(inventory.prices)
    names = list(dict.fromkeys(apps or [a.name for a in inventory.background_apps]))
    if not names:
        return Completed(message="no apps: the inventory has no background services")

    # Check the machines of every app first: an app that cannot be read stops everything.
    machines = await read_machines(names)
    unreadable = {a: m for a, m in machines.items() if isinstance(m, str)}
    if unreadable:
        problems = "; ".join(f"{a}: {m}" for a, m in unreadable.items())
        return Failed(message=f"nothing changed, could not read {problems}")
    plans = [
        autostop.plan(a, m, prices, min_machines_running, idle_share_pct / 100)
        for a, m in machines.items()
        if not isinstance(m, str)
    ]
    preview = render_plans(plans, dry_run=dry_run)
    changing = sum(len(p.to_change) for p in plans)
    saving = money(sum(p.saving for p in plans))
    if dry_run:
        summary = f"dry run: {changing} machine(s) would change, saving about {saving}/month"
        await publish_markdown(ARTIFACT_KEY, preview, description=summary)
        logger.info(summary)
        return Completed(message=summary)

    actor = requested_by or f"enable-auto-stop/{flow_run.get_name() or 'local'}"
    reason = f"enable auto-stop, min_machines_running={min_machines_running}"
    results: list[AutoStopResult] = []
    for plan in plans:
        results.append(
            await apply_autostop(plan.app, min_machines_running, actor=actor, reason=reason)
        )
    updated = sum(len(r.updated) for r in results)
    unverified = [r.app for r in results if not r.verified]
    lines = [preview, "## Applied", ""] + [
        f"- {r.app}: updated {', '.join(r.updated) or 'nothing'}; already set "
        f"{', '.join(r.already) or 'none'}; verified: {'yes' if r.verified else 'NO'}"
        for r in results
    ]
    summary = f"{updated} machine(s) updated, saving about {saving}/month"
    if unverified:
        summary += f"; read-back does not match for {', '.join(unverified)}"
    await publish_markdown(ARTIFACT_KEY, "\n".join(lines) + "\n", description=summary)
    logger.info(summary)
    return Failed(message=summary) if unverified else Completed(message=summary)


if __name__ == "__main__":
    import asyncio

    asyncio.run(enable_auto_stop())
