"""Every mutating step, recorded twice: in the append-only audit log (hash-chained JSON lines
under the state folder) and as a Prefect event that automations can act on."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from prefect.events import emit_event

from hotdash_ops.audit import AuditLog, AuditRecord
from hotdash_ops.redaction import default_redactor
from tasks import fly_access


def audit_log() -> AuditLog:
    return AuditLog(fly_access.settings().hotdash_state_dir / "audit.jsonl")


def audit(
    *,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditRecord:
    """Append who did what to which app and why; then emit `hotdash.audit.<action>`.

    The log is written first: an event that cannot be sent never costs the audit record.
    """
    record = audit_log().append(
        actor=actor, action=action, target=target, detail=detail or {}, reason=reason
    )
    redact = default_redactor().redact
    emit_event(
        event=f"hotdash.audit.{action}",
        resource={"prefect.resource.id": f"fly.app.{target}", "prefect.resource.name": target},
        payload={
            "actor": redact(actor),
            "reason": redact(reason or ""),
            "seq": record.seq,
            "hash": record.hash,
        },
    )
    return record


class AuditedStep:
    """The mutation an `audited` block does: `detail` is what its record says. The block may add
    to it, or replace it, to say what it did; a failure records the detail as it is then."""

    def __init__(self, detail: Mapping[str, Any] | None) -> None:
        self.detail: dict[str, Any] = dict(detail or {})


@contextmanager
def audited(
    *,
    actor: str,
    action: str,
    target: str,
    detail: Mapping[str, Any] | None = None,
    reason: str | None = None,
    errors: type[Exception] | tuple[type[Exception], ...] = Exception,
) -> Iterator[AuditedStep]:
    """Audit the block as one mutation: `action` with the step's detail and outcome "ok" when it
    ends, or outcome "failed" and the error's text when it raises one of `errors` (re-raised).

    The audit log redacts every detail, the error text included.
    """
    step = AuditedStep(detail)
    try:
        yield step
    except errors as exc:
        failed = {**step.detail, "outcome": "failed", "error": str(exc)}
        audit(actor=actor, action=action, target=target, detail=failed, reason=reason)
        raise
    ok = {**step.detail, "outcome": "ok"}
    audit(actor=actor, action=action, target=target, detail=ok, reason=reason)


E = TypeVar("E", bound=Exception)


@contextmanager
def audited_start(
    *,
    actor: str,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    reason: str | None,
    errors: type[E],
    error_text: Callable[[E], str],
) -> Iterator[None]:
    """`<action>.started` before the block, `<action>.failed` (the detail and `error_text` of the
    error) when it raises one of `errors` (re-raised). The caller audits how it ended, after the
    reads that tell it (a failed read afterwards is not a failed mutation)."""
    audit(
        actor=actor, action=f"{action}.started", target=target, detail=dict(detail), reason=reason
    )
    try:
        yield
    except errors as exc:
        failed = {**detail, "error": error_text(exc)}
        audit(actor=actor, action=f"{action}.failed", target=target, detail=failed, reason=reason)
        raise
