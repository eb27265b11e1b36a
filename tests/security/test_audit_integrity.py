"""Audit log integrity beyond tests/core/test_audit.py: the installed `hotdash-audit verify`
command on edited, deleted, reordered, forged and torn lines, and many writers (processes with
several threads each) losing no record."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from hotdash_ops.audit import AuditLog
from hotdash_ops.redaction import Redactor
from tests.audit_writers import append_records
from tests.conftest import BIN

WRITERS, THREADS, APPENDS = 4, 4, 25


def fill(path: Path, n: int = 6) -> list[str]:
    log = AuditLog(path, redactor=Redactor())
    for i in range(n):
        log.append("ops@hotdash.test", "scale.count", "hotdash-staging", {"count": i}, reason="r")
    return path.read_text().splitlines()


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    """The console script, as an operator runs it."""
    return subprocess.run(
        [str(BIN / "hotdash-audit"), "verify", str(path)], capture_output=True, text=True
    )


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def test_verify_command_says_intact(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fill(path)
    done = verify(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"{path}: 6 records, chain intact"


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("edit", "line 3: hash mismatch, the record was edited"),
        ("delete", "line 3: prev_hash does not match the record before it"),
        ("reorder", "line 3: prev_hash does not match the record before it"),
        ("forge", "line 4: prev_hash does not match the record before it"),
        ("torn", "line 6: not a valid audit record"),
    ],
)
def test_verify_command_finds_tampering(tmp_path: Path, tamper: str, problem: str) -> None:
    path = tmp_path / "audit.jsonl"
    lines = fill(path)
    if tamper == "edit":  # change who did it, keep the stored hash
        record = json.loads(lines[2])
        record["actor"] = "someone-else"
        lines[2] = json.dumps(record)
    elif tamper == "delete":
        del lines[2]
    elif tamper == "reorder":
        lines[2], lines[3] = lines[3], lines[2]
    elif tamper == "forge":  # a new record with a correct hash of its own, slipped in
        from hotdash_ops.audit import AuditRecord

        forged = AuditRecord.model_validate_json(lines[2]).model_copy(
            update={"seq": 4, "actor": "mallory", "prev_hash": "f" * 64}
        )
        forged.hash = forged.compute_hash()
        lines.insert(3, forged.model_dump_json())
    elif tamper == "torn":  # a write cut short
        lines[5] = lines[5][: len(lines[5]) // 2]
    rewrite(path, lines)
    done = verify(path)
    assert done.returncode == 1
    assert problem in done.stdout, done.stdout
    assert done.stdout.strip().endswith("chain BROKEN")


def test_many_writers_in_processes_and_threads_lose_no_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=append_records,
            args=(str(path), w),
            kwargs={"threads": THREADS, "appends": APPENDS},
        )
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
        assert p.exitcode == 0
    total = WRITERS * THREADS * APPENDS
    records = AuditLog(path, redactor=Redactor()).records()
    assert [r.seq for r in records] == list(range(1, total + 1))
    per_writer = Counter(r.actor for r in records)
    assert per_writer == {f"w{w}-t{t}": APPENDS for w in range(WRITERS) for t in range(THREADS)}
    for actor in per_writer:
        assert sorted(r.detail["i"] for r in records if r.actor == actor) == list(range(APPENDS))
    done = verify(path)
    assert done.returncode == 0 and f"{total} records, chain intact" in done.stdout
