"""The append-only audit log: every mutating step, who asked, why (JSON lines, hash-chained).

Each record carries `prev_hash` (the previous record's `hash`) and `hash` = sha256 of its own
canonical JSON without `hash`. Editing a line breaks its hash; deleting or reordering one breaks
the next record's `prev_hash` and `seq`. (Truncating the newest records cannot be seen from the
file alone: ship the last hash elsewhere, e.g. in the Prefect event, to anchor it.)

Several processes (flows on several workers) append safely: the file is locked with
`fcntl.flock` while the last line is read and the new one written, then fsynced.
Console script: `hotdash-audit verify [PATH]`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, Field, ValidationError

from hotdash_ops.redaction import Redactor, default_redactor

GENESIS = "0" * 64
AUDIT_FILENAME = "audit.jsonl"


class AuditError(RuntimeError):
    """The audit log cannot be appended to (its last line is unreadable)."""


class AuditRecord(BaseModel):
    """One audited action."""

    seq: int
    ts: str  # UTC, ISO 8601
    actor: str
    action: str
    target: str
    detail: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None
    prev_hash: str
    hash: str = ""

    def canonical(self) -> bytes:
        """The bytes that are hashed: sorted keys, no spaces, without `hash`."""
        body = self.model_dump(mode="json", exclude={"hash"})
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def compute_hash(self) -> str:
        """sha256 of `canonical()`, hex."""
        return hashlib.sha256(self.canonical()).hexdigest()


class VerifyResult(BaseModel):
    """What `verify` found; `problems` name line numbers (1-based)."""

    ok: bool
    count: int
    problems: list[str] = Field(default_factory=list)


def _last_line(fh: BinaryIO) -> bytes | None:
    """The last non-empty line of a binary file, read backwards in chunks."""
    fh.seek(0, os.SEEK_END)
    pos = fh.tell()
    buf = b""
    while pos > 0:
        step = min(4096, pos)
        pos -= step
        fh.seek(pos)
        buf = fh.read(step) + buf
        stripped = buf.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    stripped = buf.rstrip(b"\n")
    return stripped or None


class AuditLog:
    """An append-only, hash-chained JSON-lines file."""

    def __init__(self, path: Path, *, redactor: Redactor | None = None) -> None:
        self.path = Path(path)
        self.redactor = redactor or default_redactor()

    def append(
        self,
        actor: str,
        action: str,
        target: str,
        detail: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> AuditRecord:
        """Record one action (detail and reason redacted) and return the written record."""
        detail_clean = self.redactor.redact_obj(dict(detail or {}))
        assert isinstance(detail_clean, dict)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                last = _last_line(fh)
                if last is None:
                    seq, prev = 1, GENESIS
                else:
                    try:
                        previous = AuditRecord.model_validate_json(last)
                    except ValidationError as exc:
                        raise AuditError(
                            f"{self.path}: last record unreadable, run `hotdash-audit verify` "
                            f"({exc.error_count()} errors)"
                        ) from None
                    seq, prev = previous.seq + 1, previous.hash
                record = AuditRecord(
                    seq=seq,
                    ts=datetime.now(UTC).isoformat(timespec="microseconds"),
                    actor=self.redactor.redact(actor),
                    action=action,
                    target=target,
                    detail=detail_clean,
                    reason=self.redactor.redact(reason) if reason is not None else None,
                    prev_hash=prev,
                )
                record.hash = record.compute_hash()
                line = json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n"
                fh.seek(0, os.SEEK_END)  # "a" mode appends anyway; be explicit
                fh.write(line.encode())
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return record

    def records(self) -> list[AuditRecord]:
        """All records, oldest first (unreadable lines raise; use `verify` to diagnose)."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
            lines = fh.read().splitlines()
        return [AuditRecord.model_validate_json(raw) for raw in lines if raw.strip()]

    def verify(self) -> VerifyResult:
        """Check every hash, link and sequence number; problems name the line."""
        if not self.path.exists():
            return VerifyResult(ok=True, count=0)
        with open(self.path, "rb") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
            lines = fh.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        problems: list[str] = []
        prev_hash, prev_seq, count = GENESIS, 0, 0
        for number, raw in enumerate(lines, start=1):
            try:
                record = AuditRecord.model_validate_json(raw)
            except ValidationError:
                problems.append(f"line {number}: not a valid audit record")
                prev_hash, prev_seq = "", prev_seq + 1
                continue
            count += 1
            if record.compute_hash() != record.hash:
                problems.append(f"line {number}: hash mismatch, the record was edited")
            if record.prev_hash != prev_hash:
                problems.append(
                    f"line {number}: prev_hash does not match the record before it "
                    "(a record was deleted, inserted or reordered)"
                )
            if record.seq != prev_seq + 1:
                problems.append(f"line {number}: seq {record.seq} follows seq {prev_seq}")
            prev_hash, prev_seq = record.hash, record.seq
        return VerifyResult(ok=not problems, count=count, problems=problems)


def default_audit_path() -> Path:
    """`$HOTDASH_STATE_DIR/audit.jsonl` (default `.state/audit.jsonl`)."""
    from hotdash_ops.settings import Settings

    return Settings().hotdash_state_dir / AUDIT_FILENAME


def main(argv: Sequence[str] | None = None) -> int:
    """`hotdash-audit verify [PATH]`: exit 0 when the chain is intact, 1 when not."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "verify" or len(args) > 2:
        print("usage: hotdash-audit verify [PATH]", file=sys.stderr)
        return 2
    path = Path(args[1]) if len(args) == 2 else default_audit_path()
    if not path.exists():
        print(f"{path}: no audit log", file=sys.stderr)
        return 1
    result = AuditLog(path, redactor=Redactor()).verify()
    for problem in result.problems:
        print(f"{path}: {problem}")
    state = "intact" if result.ok else "BROKEN"
    print(f"{path}: {result.count} records, chain {state}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
