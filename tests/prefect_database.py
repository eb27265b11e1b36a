"""One migrated Prefect database per test run, copied for each test server.

A Prefect server started on an empty SQLite file first migrates it and registers Prefect's
block types: 16 CPU-seconds here, against 8.5 on a file that already has them (the same
server, one after the other, on the 2-core machine of the README's figures). A `make test`
starts four such servers (the harness server of each xdist worker and the shared e2e stack): the
first to answer leaves a snapshot of its database (SQLite's backup API, taken before any test
has written to it), and those that start later start on copies of it. `make demo`'s own test
still starts from nothing, as a new user does.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

TEMPLATE = "prefect-migrated.db"


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every xdist worker of this run shares (each has its own basetemp in it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@contextmanager
def migrated_database(db: Path, shared: Path) -> Iterator[Callable[[], None]]:
    """While a server starts on `db`: `db` is a copy of the run's migrated database when there
    is one yet; call the yielded `started()` once the server answers, which keeps a snapshot of
    `db` as that database when there is none yet. Servers that start together before there is
    one each migrate their own (no server waits for another)."""
    template = shared / TEMPLATE
    db.parent.mkdir(parents=True, exist_ok=True)
    if template.exists():
        shutil.copyfile(template, db)
        yield lambda: None
        return

    def started() -> None:
        if template.exists():
            return
        partial = shared / f"{TEMPLATE}.{os.getpid()}"
        with closing(sqlite3.connect(db)) as source, closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)  # consistent, its write-ahead log included
        partial.replace(template)  # atomic: a reader sees no file or a whole one

    yield started
