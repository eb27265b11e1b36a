"""The hash-chained audit log: tamper detection and concurrent appends from processes."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from hotdash_ops.audit import GENESIS, AuditError, AuditLog, main
from hotdash_ops.redaction import REDACTED, Redactor
from tests.audit_writers import append_records


def fill(path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(path, redactor=Redactor(["s3cr3t-token"]))
    for i in range(n):
        log.append("ops@example.com", "scale.count", "hotdash-staging", {"count": i}, reason="load")
    return log


def test_append_chain_and_redaction(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "state" / "audit.jsonl", redactor=Redactor(["s3cr3t-token"]))
    first = log.append("alice", "deploy", "hotdash-staging", {"cmd": "fly deploy s3cr3t-token"})
    second = log.append("bob", "rollback", "hotdash-staging", {}, reason="bad s3cr3t-token")
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert first.ts.endswith("+00:00")
    text = log.path.read_text()
    assert "s3cr3t-token" not in text and REDACTED in text
    assert [r.action for r in log.records()] == ["deploy", "rollback"]
    assert log.verify().ok and log.verify().count == 2


def test_edited_line_detected(tmp_path: Path) -> None:
    log = fill(tmp_path / "audit.jsonl")
    lines = log.path.read_text().splitlines()
    rec = json.loads(lines[2])
    rec["detail"]["count"] = 99
    lines[2] = json.dumps(rec)
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert not result.ok and result.count == 5
    assert any(p.startswith("line 3: hash mismatch") for p in result.problems)


def test_deleted_line_detected(tmp_path: Path) -> None:
    log = fill(tmp_path / "audit.jsonl")
    lines = log.path.read_text().splitlines()
    del lines[1]
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert not result.ok
    assert any(p.startswith("line 2: prev_hash does not match") for p in result.problems)
    assert any("seq 3 follows seq 1" in p for p in result.problems)


def test_garbage_line_detected_and_append_refused(tmp_path: Path) -> None:
    log = fill(tmp_path / "audit.jsonl", 2)
    with log.path.open("a") as fh:
        fh.write("not json\n")
    assert "line 3: not a valid audit record" in log.verify().problems
    with pytest.raises(AuditError, match="last record unreadable"):
        log.append("a", "b", "c", {})


def test_concurrent_processes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=append_records, args=(str(path), w)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    log = AuditLog(path, redactor=Redactor())
    result = log.verify()
    assert result.ok, result.problems[:5]
    assert result.count == 400
    assert [r.seq for r in log.records()] == list(range(1, 401))


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = fill(tmp_path / "audit.jsonl", 3)
    assert main(["verify", str(log.path)]) == 0
    assert "3 records, chain intact" in capsys.readouterr().out
    lines = log.path.read_text().splitlines()
    log.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert main(["verify", str(log.path)]) == 1
    assert "BROKEN" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["verify", str(tmp_path / "missing.jsonl")]) == 1
