"""Cost Management / Volume Management (runbook), on demand: list, extend, delete unused.

* list: `fly volumes list` of one app or every app, with each volume's monthly cost;
* extend: `fly volumes extend <id> --size N`; a size that does not grow the volume is refused
  before any fly command; the run says whether the machine must restart to see the new size;
* delete-unused: the volumes attached to no machine, of one app or, with `app: "*"` given on
  purpose, of every app (never implied by leaving `app` empty). A dry run (the default) only
  lists them. Applying pauses with a form that lists them and what they cost, with one switch
  per volume, all off: the person confirming chooses them one by one. Each chosen volume is
  snapshotted (`fly volumes snapshots create`, read back until created), then deleted, only if
  it is still unattached, under the app's lock, both steps audited with who confirmed. A
  volume whose snapshot did not finish is kept.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from pydantic import Field, ValidationError, create_model

from hotdash_ops.cost import volumes
from hotdash_ops.cost.pricing import load_prices
from hotdash_ops.operator_input import PersonName, Requester
from hotdash_ops.run_forms import DIGITS, EveryOrInventoryApp, optional
from hotdash_ops.validation import EVERY_APP, VolumeId, field_problems
from tasks import fly_access
from tasks.deadline_timer import wait_for_answer
from tasks.reports import publish_markdown, publish_table
from tasks.volumes import DeleteOutcome, extend_volume, list_volumes, snapshot_and_delete

PAUSE_KEY = "delete-volumes"
DEFAULT_POLL_SECONDS = 10


class ChooseVolumes(RunInput):
    """The choice form: one switch per unattached volume (added per run), and who chooses."""

    confirmed_by: PersonName = Field(
        description="Your name (recorded in the audit log with each snapshot and deletion)."
    )


def choice_form(rows: list[volumes.VolumeRow], description: str) -> type[ChooseVolumes]:
    """The form for these volumes: a switch named by each volume's id, off by default."""
    switches: dict[str, Any] = {
        row.id: (bool, Field(default=False, description=volumes.choice_label(row))) for row in rows
    }
    form = create_model("ChooseVolumes", __base__=ChooseVolumes, **switches)
    form._description = description
    return form


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
    app: EveryOrInventoryApp = "",
    volume_id: optional(VolumeId) = "",
    size_gb: optional(Annotated[int, Field(ge=1, le=500)], pattern=DIGITS) = "",
    dry_run: bool = True,
    requested_by: optional(Requester) = "",
    confirm_timeout_hours: Annotated[float, Field(gt=0, le=24 * 14)] = 24.0,
    snapshot_wait_minutes: Annotated[float, Field(gt=0, le=120)] = 10.0,
) -> State:
    """List volumes, extend one, or delete unattached ones (chosen one by one, snapshot first).

    Args:
        action: list | extend | delete-unused
        app: the app, or * for every app of the inventory (extend: one app; delete-unused:
            required; list: default every app)
        volume_id: the volume to extend (extend only)
        size_gb: the new size in GB, bigger than the current one (extend only)
        dry_run: delete-unused only lists what would go (default); off asks to choose
        requested_by: who asks (audit log); empty: this flow run
        confirm_timeout_hours: (expert) how long delete-unused waits for the choice
        snapshot_wait_minutes: (expert) how long a volume's snapshot may take before it is
            kept
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
    apps = [app] if app and app != EVERY_APP else [a.name for a in inventory.apps]
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

    # Each volume chosen one by one in the form; none unless switched on.
    description = volumes.confirmation_text(unused)
    deadline = datetime.now(UTC) + timedelta(hours=confirm_timeout_hours)
    try:
        answer = await wait_for_answer(
            choice_form(unused, description),
            PAUSE_KEY,
            durable=False,
            deadline=deadline,
            poll_seconds=_poll_seconds(),
        )
    except ValidationError as exc:  # e.g. a blank name: the schema takes it, PersonName not
        summary = f"confirmation refused ({field_problems(exc)}): nothing deleted"
        await publish_markdown("manage-volumes", f"# Delete unused volumes\n\n{summary}\n", summary)
        return Failed(message=summary)
    if answer is None:
        summary = f"no choice within {confirm_timeout_hours:g} h: nothing deleted"
        await publish_markdown("manage-volumes", f"# Delete unused volumes\n\n{summary}\n", summary)
        return Failed(message=summary)
    chosen = [row for row in unused if getattr(answer, row.id, False) is True]
    if not chosen:
        summary = f"no volume chosen by {answer.confirmed_by}: nothing deleted"
        await publish_markdown("manage-volumes", f"# Delete unused volumes\n\n{summary}\n", summary)
        return Completed(message=summary)

    reason = f"delete unused volume: requested by {actor}, chosen by {answer.confirmed_by}"
    outcomes: list[DeleteOutcome] = []
    for row in chosen:
        outcomes.append(
            await snapshot_and_delete(
                row.app,
                row.id,
                actor=answer.confirmed_by,
                reason=reason,
                snapshot_wait_seconds=snapshot_wait_minutes * 60,
            )
        )
    deleted = [f"{o.volume_id} (snapshot {o.snapshot_id})" for o in outcomes if o.deleted]
    kept = [f"{o.volume_id} ({o.note})" for o in outcomes if not o.deleted]
    summary = (
        f"deleted {len(deleted)} of {len(unused)} volume(s), chosen by {answer.confirmed_by}: "
        + (", ".join(deleted) or "none")
    )
    if kept:
        summary += f"; kept {', '.join(kept)}"
    await publish_markdown(
        "manage-volumes",
        f"# Delete unused volumes\n\n{description}\n\n**Result:** {summary}\n",
        description=summary,
    )
    logger.info("%s (requested by %s)", summary, actor)
    return Failed(message=summary) if kept else Completed(message=summary)


if __name__ == "__main__":
    import asyncio

    asyncio.run(manage_volumes())
