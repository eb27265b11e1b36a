"""Cost Management / Volume Management (runbook), on demand: list, extend, delete unused.

* list: `fly volumes list` of one app or every app, with each volume's monthly cost;
* extend: `fly volumes extend <id> --size N`; a size that does not grow the volume is refused
  before any fly command; the run says whether the machine must restart to see the new size;
* delete-unused: the volumes attached to no machine. A dry run (the default) only lists them.
  Applying pauses for a confirmation whose form lists exactly which volumes go and what they
  cost; after `confirm`, only those volumes are deleted, each only if it is still unattached,
  each under the app's lock and audited with who confirmed.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.flow_runs import apause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from pydantic import Field, ValidationError

from hotdash_ops.cost import volumes
from hotdash_ops.cost.pricing import load_prices
from hotdash_ops.operator_input import PersonName, Requester
from hotdash_ops.validation import AppName, VolumeId, field_problems
from tasks import fly_access
from tasks.reports import publish_markdown, publish_table
from tasks.volumes import DeleteOutcome, extend_volume, list_volumes
from tasks.volumes import delete_volume as delete_volume_task

PAUSE_KEY = "delete-volumes"
DEFAULT_POLL_SECONDS = 10


class ConfirmVolumeDeletion(RunInput):
    """The confirmation form: the description above it lists the volumes and their cost."""

    confirm: bool = Field(
        default=False, description="On: delete exactly the volumes listed above. Off: keep all."
    )
    confirmed_by: PersonName = Field(
        description="Your name (recorded in the audit log with each deletion)."
    )


def _poll_seconds() -> int:
    # How often the paused run asks the API for the answer (tests use 1 s).
    return max(1, int(os.environ.get("HOTDASH_PAUSE_POLL_SECONDS", DEFAULT_POLL_SECONDS)))


def _table(rows: list[volumes.VolumeRow]) -> list[dict[str, object]]:
    return [
        {
            "app": r.app,
            "id": r.id,
            "name": r.name,
            "size_gb": r.size_gb,
            "attached_machine": r.attached_machine_id or "",
            "state": r.state,
            "region": r.region,
            "monthly_cost": round(r.monthly, 2),
        }
        for r in rows
    ]


@flow(name="manage-volumes", log_prints=False)
async def manage_volumes(
    action: Literal["list", "extend", "delete-unused"] = "list",
    app: AppName | None = None,
    volume_id: VolumeId | None = None,
    size_gb: Annotated[int, Field(ge=1, le=500)] | None = None,
    dry_run: bool = True,
    confirm_timeout_hours: Annotated[float, Field(gt=0, le=24 * 14)] = 24.0,
    requested_by: Requester | None = None,
) -> State:
    """List volumes, extend one, or delete the unattached ones (after a confirmation).

    Args:
        action: list | extend | delete-unused
        app: the app (required for extend; default for list and delete-unused: every app of
            the inventory)
        volume_id: the volume to extend (extend only)
        size_gb: the new size in GB, bigger than the current one (extend only)
        dry_run: delete-unused only lists what would go (default); off asks to confirm
        confirm_timeout_hours: how long delete-unused waits for the confirmation
        requested_by: who asks (audit log); default: this flow run
    """
    logger = get_run_logger()
    volumes.check_request(action, app=app, volume_id=volume_id, size_gb=size_gb)
    inventory = fly_access.inventory()
    prices = load_prices(inventory.prices)
    actor = requested_by or f"manage-volumes/{flow_run.get_name() or 'local'}"

    if action == "extend":
        assert app is not None and volume_id is not None and size_gb is not None
        outcome = await extend_volume(
            app, volume_id, size_gb, actor=actor, reason=f"extend to {size_gb} GB"
        )
        restart = (
            f"restart machine {outcome.attached_machine_id} to see the new size"
            if outcome.needs_restart
            else "no restart needed"
        )
        summary = (
            f"{app}: volume {volume_id} extended {outcome.from_gb} -> {outcome.to_gb} GB; "
            f"{restart}; now {volumes.money(prices.volume(outcome.to_gb))}/month"
        )
        await publish_markdown("manage-volumes", f"# Extend volume\n\n{summary}\n", summary)
        logger.info(summary)
        return Completed(message=summary)

    # Runbook: List volumes (`fly volumes list --app <app>`)
    apps = [app] if app else [a.name for a in inventory.apps]
    read = await list_volumes(apps)
    unreadable = {a: v for a, v in read.items() if isinstance(v, str)}
    rows = volumes.volume_rows({a: v for a, v in read.items() if not isinstance(v, str)}, prices)
    problems = "; ".join(f"{a}: {e}" for a, e in unreadable.items())
    if action == "list":
        total = volumes.money(sum(r.monthly for r in rows))
        summary = f"{len(rows)} volume(s), {total}/month"
        if problems:
            summary += f"; could not read {problems}"
        await publish_table("manage-volumes-list", _table(rows), description=summary)
        return Failed(message=summary) if unreadable else Completed(message=summary)

    # Runbook: Delete unused volume (`fly volumes delete <volume-id> --app <app>`)
    unused = volumes.unused(rows)
    saving = volumes.money(sum(r.monthly for r in unused))
    await publish_table("manage-volumes-unused", _table(unused), description=f"saves {saving}")
    if not unused:
        summary = "no unattached volumes: nothing to delete"
        return (
            Failed(message=f"{summary}; could not read {problems}")
            if problems
            else Completed(message=summary)
        )
    if dry_run:
        summary = f"dry run: {len(unused)} unattached volume(s) would be deleted, saving {saving}"
        await publish_markdown(
            "manage-volumes", volumes.confirmation_text(unused), description=summary
        )
        return Completed(message=summary)

    try:
        answer = await apause_flow_run(
            wait_for_input=ConfirmVolumeDeletion.with_initial_data(
                description=volumes.confirmation_text(unused)
            ),
            timeout=int(confirm_timeout_hours * 3600),
            poll_interval=_poll_seconds(),
            key=PAUSE_KEY,
        )
    except ValidationError as exc:  # e.g. a blank name: the schema takes it, PersonName not
        summary = f"confirmation refused ({field_problems(exc)}): nothing deleted"
        await publish_markdown("manage-volumes", f"# Delete unused volumes\n\n{summary}\n", summary)
        return Failed(message=summary)
    if not answer.confirm:
        summary = f"not confirmed by {answer.confirmed_by}: nothing deleted"
        await publish_markdown("manage-volumes", f"# Delete unused volumes\n\n{summary}\n", summary)
        return Completed(message=summary)

    reason = f"delete unused volume: requested by {actor}, confirmed by {answer.confirmed_by}"
    outcomes: list[DeleteOutcome] = []
    for row in unused:
        outcomes.append(
            await delete_volume_task(row.app, row.id, actor=answer.confirmed_by, reason=reason)
        )
    deleted = [o.volume_id for o in outcomes if o.deleted]
    kept = [f"{o.volume_id} ({o.note})" for o in outcomes if not o.deleted]
    summary = f"deleted {len(deleted)} volume(s) confirmed by {answer.confirmed_by}: " + (
        ", ".join(deleted) or "none"
    )
    if kept:
        summary += f"; kept {', '.join(kept)}"
    await publish_markdown(
        "manage-volumes",
        f"# Delete unused volumes\n\n{volumes.confirmation_text(unused)}\n\n"
        f"**Result:** {summary}\n",
        description=summary,
    )
    logger.info("%s (requested by %s)", summary, actor)
    return Failed(message=summary) if kept else Completed(message=summary)


if __name__ == "__main__":
    import asyncio

    asyncio.run(manage_volumes())
