"""Every mutating step, recorded twice: in the append-only audit log (hash-chained JSON lines
under the state folder) and as a Prefect event that automations can act on."""

from __future__ import annotations

from typing import Any

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
