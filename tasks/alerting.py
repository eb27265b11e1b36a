"""Alerts of the infrastructure monitor: state, notifications and events (runbook: Monitoring &
Alerts, "Creates alerts on failures" and `configure-alerts.sh`).

One task per run, not one per alert: it locks the alert state file, applies the run's
verdicts (hotdash_ops.monitor.alert_state, pure) with the app locks and silences holding
notices back, records what fired or resolved in the alert history, emits `hotdash.alert.fired`
/ `.resolved` events (with the incident severity the inventory maps the alert to), sends the due
messages through `tasks.notify.notify` and marks as sent only what was delivered. The state is
saved before sending too, so a crash mid-send loses no run's count.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from hotdash_ops.incidents.response import incident_policy
from hotdash_ops.incidents.severity import Severity
from hotdash_ops.inventory import Inventory
from hotdash_ops.monitor.alert_history import HISTORY_FILE, AlertChange, AlertHistory
from hotdash_ops.monitor.alert_messages import AlertMessage, compose
from hotdash_ops.monitor.alert_rules import RuleVerdict
from hotdash_ops.monitor.alert_rules import Severity as AlertSeverity
from hotdash_ops.monitor.alert_state import (
    AlertBook,
    AlertEntry,
    AlertEvent,
    AlertPolicy,
    AlertStatus,
    AlertStore,
    advance,
    due_notices,
    load_alert_policy,
    mark_delivered,
)
from hotdash_ops.redaction import default_redactor
from tasks import fly_access
from tasks.app_lock import locked_apps
from tasks.notify import notify
from tasks.silences import silence_store

ALERT_STATE_FILE = "alerts.json"


def alert_store() -> AlertStore:
    """The alert state file under the stack's state folder."""
    return AlertStore(fly_access.settings().hotdash_state_dir / ALERT_STATE_FILE)


def alert_policy() -> AlertPolicy:
    """The inventory's `alerts:` section (fire/resolve counts, reminders), else the defaults."""
    return load_alert_policy(fly_access.settings().hotdash_inventory)


def alert_history() -> AlertHistory:
    """Every alert that fired, got worse or resolved (`<state>/alert-history.jsonl`)."""
    return AlertHistory(fly_access.settings().hotdash_state_dir / HISTORY_FILE)


def load_alert_book() -> AlertBook:
    """The stored alert state (read without the lock: for reports, never for updates)."""
    book, _ = alert_store().load()
    return book


async def held_apps(apps: list[str]) -> set[str]:
    """Apps whose deploy lock is held now; their alerts wait until it is free."""
    try:
        return await locked_apps(apps)
    except Exception as exc:  # unknown lock state must not silence alerts: send them
        get_run_logger().warning("could not read the app locks (%s); holding nothing back", exc)
        return set()


def incident_severity(inventory: Inventory, event: AlertEvent) -> Severity:
    """The runbook severity of the incident an alert means (the inventory's
    `incident.severity`, by the app's environment and whether it is down or degraded)."""
    mapping = incident_policy(inventory.incident).severity
    down = "critical" if event.severity == AlertSeverity.CRITICAL else "warning"
    return mapping.for_alert(inventory.environment_of(event.app), down)


def emit_alert_event(event: AlertEvent, inventory: Inventory) -> None:
    """`hotdash.alert.fired|resolved` on resource `fly.app.<app>` (name = the app), labelled
    with the incident severity (`hotdash.incident-severity`, which the incident-response
    trigger passes on and groups by) and carrying what the severity was decided from."""
    redact = default_redactor().redact
    severity = incident_severity(inventory, event)
    emit_event(
        event=event.name,
        resource={
            "prefect.resource.id": f"fly.app.{event.app}",
            "prefect.resource.name": event.app,
            "hotdash.incident-severity": severity.value,
        },
        payload={
            "app": event.app,
            "rule": event.rule.value,
            "severity": event.severity.value,
            "condition": event.condition,
            "environment": inventory.environment_of(event.app) or "",
            "incident_severity": severity.value,
            "detail": redact(event.detail),
        },
    )


async def deliver(message: AlertMessage) -> bool:
    """Send one message through the notification blocks; True only when it was delivered."""
    body = message.body
    if run_url := flow_run.ui_url:  # set when PREFECT_UI_URL is configured
        body += f"\n\nMonitor run: {run_url}"
    try:
        return bool(await notify(message.subject, body))
    except Exception as exc:  # the notify task already retried; the alert waits for next run
        get_run_logger().error("alert not delivered (%s): %s", exc, message.subject)
        return False


class AlertRunResult(BaseModel):
    """What one run did about alerts."""

    book: AlertBook
    sent: list[str] = Field(default_factory=list)  # subjects delivered
    undelivered: list[str] = Field(default_factory=list)  # subjects to retry next run
    held_apps: list[str] = Field(default_factory=list)  # whose due notices a deploy held
    silenced: dict[str, datetime] = Field(default_factory=dict)  # app -> end of its silence
    events: list[str] = Field(default_factory=list)  # "<event> <app>/<rule>"
    warning: str | None = None

    def labels(self, app: str, tz: tzinfo = UTC) -> str:
        """The app's alerts as a table cell: `cpu firing (warning); memory pending`, and
        `... silenced until 2025-10-14 14:05 PDT` under a silence."""
        return "; ".join(e.label(tz) for e in self.book.for_app(app))

    def summary(self) -> str:
        firing = sum(1 for e in self.book.alerts.values() if e.status.value == "firing")
        pending = sum(1 for e in self.book.alerts.values() if e.status.value == "pending")
        text = f"alerts: {firing} firing, {pending} pending, {len(self.sent)} message(s) sent"
        if self.held_apps:
            text += f", held back for {', '.join(self.held_apps)} (deploy in progress)"
        if self.silenced:
            text += f", silenced: {', '.join(sorted(self.silenced))}"
        if self.undelivered:
            text += f", {len(self.undelivered)} NOT delivered (retried next run)"
        return text


@task(name="update-alerts", cache_policy=NO_CACHE)
async def update_alerts(
    verdicts: list[RuleVerdict], fleet: list[str] | None = None, timezone: str = "UTC"
) -> AlertRunResult:
    """Runbook: Automated Monitoring, "Creates alerts on failures" (configure-alerts.sh).

    `fleet`: every app and dependency of a whole-fleet run (alerts of ones no longer listed
    are dropped); None when only some apps were checked.
    """
    logger = get_run_logger()
    store = alert_store()
    policy = alert_policy()
    inventory = fly_access.inventory()
    tz = ZoneInfo(timezone)
    now = datetime.now(UTC)
    async with store.locked():
        book, warning = store.load()
        if warning:
            logger.error(warning)
        apps = sorted({v.app for v in verdicts} | {e.app for e in book.alerts.values()})
        held = await held_apps(apps)
        silences, unreadable = silence_store().load()
        if unreadable:
            logger.error(unreadable)
        silenced = silences.silenced(apps, now)
        transition = advance(
            book, verdicts, now, held_apps=held, silenced=silenced, policy=policy, fleet=fleet
        )
        store.save(transition.book)
        alert_history().append(transition.changes)
        for event in transition.events:
            emit_alert_event(event, inventory)
        for change in transition.changes:
            if change.silenced_until and change.severity == AlertSeverity.CRITICAL:
                # Recorded and shown, not sent: planned work, but a person should see it.
                logger.warning(
                    "critical alert %s on %s %s while silenced until %s: %s",
                    change.rule.value,
                    change.app,
                    change.change.value,
                    change.silenced_until.astimezone(tz).strftime("%H:%M %Z"),
                    change.detail,
                )
        messages = compose(transition.notices, digest_over=policy.digest_over, tz=tz)
        # Held back: only what would have been sent now (a deploy with nothing firing holds
        # nothing back, and is not worth a word).
        held_back = {
            e.app
            for e in transition.book.alerts.values()
            if e.app in held and e.silenced_until is None and due_notices(e, now, policy)
        }
        result = AlertRunResult(
            book=transition.book,
            held_apps=sorted(held_back),
            silenced=silenced,
            events=[f"{e.name} {e.app}/{e.rule.value}" for e in transition.events],
            warning=warning,
        )
        delivered = []
        for message in messages:
            if await deliver(message):
                delivered.extend(message.notices)
                result.sent.append(message.subject)
            else:
                result.undelivered.append(message.subject)
        result.book = mark_delivered(transition.book, delivered, now)
        store.save(result.book)
    if result.held_apps:
        logger.info("alerts held back while deploying: %s", ", ".join(result.held_apps))
    logger.info(result.summary())
    return result


class AlertsBetween(BaseModel):
    """What alerts did over a time range, and what is still firing."""

    changes: list[AlertChange]
    still_firing: list[AlertEntry]
    unreadable: int = 0


@task(name="read-alert-changes", cache_policy=NO_CACHE)
async def read_alert_changes(start: datetime, end: datetime, apps: list[str]) -> AlertsBetween:
    """Runbook: Review overnight alerts: every alert of `apps` that fired, got worse or
    resolved between `start` and `end` (the alert history), and those firing now."""
    read = alert_history().between(start, end)
    wanted = set(apps)
    firing = [
        e
        for e in load_alert_book().alerts.values()
        if e.app in wanted and e.status == AlertStatus.FIRING
    ]
    return AlertsBetween(
        changes=[c for c in read.changes if c.app in wanted],
        still_firing=firing,
        unreadable=read.unreadable,
    )
