"""Alerts of the infrastructure monitor: state, notifications and events (runbook: Monitoring &
Alerts, "Creates alerts on failures" and `configure-alerts.sh`).

One task per run, not one per alert: it locks the alert state file, applies the run's
verdicts (hotdash_ops.monitor.alert_state, pure), emits `hotdash.alert.fired` / `.resolved` events,
sends the due messages through `tasks.notify.notify` and marks as sent only what was
delivered. The state is saved before sending too, so a crash mid-send loses no run's count.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from hotdash_ops.monitor.alert_messages import AlertMessage, compose
from hotdash_ops.monitor.alert_rules import RuleVerdict
from hotdash_ops.monitor.alert_state import (
    AlertBook,
    AlertEvent,
    AlertPolicy,
    AlertStore,
    advance,
    load_alert_policy,
    mark_delivered,
)
from hotdash_ops.redaction import default_redactor
from tasks import fly_access
from tasks.app_lock import locked_apps
from tasks.notify import notify

ALERT_STATE_FILE = "alerts.json"


def alert_store() -> AlertStore:
    """The alert state file under the stack's state folder."""
    return AlertStore(fly_access.settings().hotdash_state_dir / ALERT_STATE_FILE)


def alert_policy() -> AlertPolicy:
    """The inventory's `alerts:` section (fire/resolve counts, reminders), else the defaults."""
    return load_alert_policy(fly_access.settings().hotdash_inventory)


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


def emit_alert_event(event: AlertEvent) -> None:
    """`hotdash.alert.fired|resolved` on resource `fly.app.<app>` (name = the app)."""
    redact = default_redactor().redact
    emit_event(
        event=event.name,
        resource={
            "prefect.resource.id": f"fly.app.{event.app}",
            "prefect.resource.name": event.app,
        },
        payload={
            "app": event.app,
            "rule": event.rule.value,
            "severity": event.severity.value,
            "condition": event.condition,
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
    held_apps: list[str] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)  # "<event> <app>/<rule>"
    warning: str | None = None

    def labels(self, app: str) -> str:
        """The app's alerts as a table cell: `cpu firing (warning); memory pending`."""
        return "; ".join(e.label() for e in self.book.for_app(app))

    def summary(self) -> str:
        firing = sum(1 for e in self.book.alerts.values() if e.status.value == "firing")
        pending = sum(1 for e in self.book.alerts.values() if e.status.value == "pending")
        text = f"alerts: {firing} firing, {pending} pending, {len(self.sent)} message(s) sent"
        if self.held_apps:
            text += f", held back for {', '.join(self.held_apps)} (deploy in progress)"
        if self.undelivered:
            text += f", {len(self.undelivered)} NOT delivered (retried next run)"
        return text


@task(name="update-alerts", cache_policy=NO_CACHE)
async def update_alerts(
    verdicts: list[RuleVerdict], fleet: list[str] | None = None, timezone: str = "UTC"
) -> AlertRunResult:
    """Runbook: Automated Monitoring, "Creates alerts on failures" (configure-alerts.sh).

    `fleet`: every app of a whole-fleet run (alerts of apps no longer listed are dropped);
    None when only some apps were checked.
    """
    logger = get_run_logger()
    store = alert_store()
    policy = alert_policy()
    now = datetime.now(UTC)
    async with store.locked():
        book, warning = store.load()
        if warning:
            logger.error(warning)
        apps = sorted({v.app for v in verdicts} | {e.app for e in book.alerts.values()})
        held = await held_apps(apps)
        transition = advance(book, verdicts, now, held_apps=held, policy=policy, fleet=fleet)
        store.save(transition.book)
        for event in transition.events:
            emit_alert_event(event)
        messages = compose(
            transition.notices, digest_over=policy.digest_over, tz=ZoneInfo(timezone)
        )
        result = AlertRunResult(
            book=transition.book,
            held_apps=sorted(held),
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
    if held:
        logger.info("alerts held back while deploying: %s", ", ".join(sorted(held)))
    logger.info(result.summary())
    return result
