"""Audit log writers run in spawned processes by the concurrency tests.

A spawned child imports the module its target lives in. Kept here, away from the test modules,
a child imports only the audit log, not pytest, Hypothesis and the test conftest: the two tests
that spawn the 12 writers took 10.9 CPU-seconds with the writers in their own modules, about 7
with them here, in every `make check` and `make test`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from hotdash_ops.audit import AuditLog
from hotdash_ops.redaction import Redactor


def append_records(path: str, worker: int, *, threads: int = 1, appends: int = 50) -> None:
    """`appends` records from each of `threads` threads, actors `w<worker>-t<thread>`, each
    record's detail `{"i": n}` counting up."""
    log = AuditLog(Path(path), redactor=Redactor())

    def write(thread: int) -> None:
        for i in range(appends):
            log.append(f"w{worker}-t{thread}", "test.append", "hotdash-staging", {"i": i})

    running = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
