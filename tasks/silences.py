"""Silences of the monitor's alerts (runbook Alert Response, planned work): the state file and
the audited changes to it. The rules are in hotdash_ops.monitor.silences; the monitor reads
the file every tick (tasks.alerting)."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from hotdash_ops.monitor.silences import (
    SILENCES_FILE,
    Silence,
    SilenceBook,
    SilenceStore,
    create_silence,
    expire_silence,
)
from hotdash_ops.redaction import default_redactor
from tasks import fly_access
from tasks.audit import audit


def silence_store() -> SilenceStore:
    """`<state>/silences.json`."""
    return SilenceStore(fly_access.settings().hotdash_state_dir / SILENCES_FILE)


def read_silences() -> SilenceBook:
    """The silences as stored (read without the lock: for reports)."""
    book, _ = silence_store().load()
    return book


@task(name="silence-alerts", cache_policy=NO_CACHE)
async def add_silence(app: str, minutes: int, *, reason: str, requested_by: str) -> Silence:
    """Hold the alerts of `app` (or `*`) back for `minutes` (Alertmanager's `amtool silence
    add`); audited `silence.create`. Typed text is stored redacted (a pasted token)."""
    redact = default_redactor().redact
    reason, requested_by = redact(reason), redact(requested_by)
    store = silence_store()
    async with store.locked():
        book, _ = store.load()
        book, silence = create_silence(
            book,
            app=app,
            minutes=minutes,
            reason=reason,
            requested_by=requested_by,
            now=datetime.now(UTC),
        )
        store.save(book)
    audit(
        actor=requested_by,
        action="silence.create",
        target=app,
        detail={"silence": silence.id, "ends_at": silence.ends_at.isoformat()},
        reason=reason,
    )
    return silence


@task(name="expire-silence", cache_policy=NO_CACHE)
async def end_silence(silence_id: str, *, requested_by: str, reason: str) -> Silence:
    """End a silence now (`amtool silence expire`): the next monitor run sends what is still
    firing; audited `silence.expire`."""
    redact = default_redactor().redact
    reason, requested_by = redact(reason), redact(requested_by)
    store = silence_store()
    async with store.locked():
        book, _ = store.load()
        book, silence = expire_silence(book, silence_id, by=requested_by, now=datetime.now(UTC))
        store.save(book)
    audit(
        actor=requested_by,
        action="silence.expire",
        target=silence.app,
        detail={"silence": silence.id, "was_until": silence.ends_at.isoformat()},
        reason=reason,
    )
    return silence
