"""A small JSON state file (one pydantic model) that several runs read and change: locked with
`fcntl.flock` on a lock file beside it, replaced atomically (temp file, fsync, `os.replace`).

Used for the alert state and the silences under the state folder. Why not a Prefect Variable
or block: a Variable holds at most 5,000 characters of JSON, and neither has compare-and-set,
so two runs could overwrite each other; a file lock held across read, change and write
serialises them (docs/prefect.md, "Sizes and speeds").
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class StateFileError(RuntimeError):
    """The state file could not be locked or written."""


class LockedJsonFile(Generic[M]):
    """One model in a JSON file, locked with flock and replaced atomically."""

    def __init__(self, path: Path, model: type[M], *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.model = model
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold the exclusive lock (waits up to `lock_timeout` s without blocking the loop)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if loop.time() >= deadline:
                        raise StateFileError(
                            f"{self.lock_path}: still locked after {self.lock_timeout:g} s "
                            "(another run is updating it)"
                        ) from None
                    await asyncio.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def load(self) -> tuple[M, str | None]:
        """The stored model, or an empty one; an unreadable file is set aside and reported."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self.model(), None
        try:
            return self.model.model_validate_json(text), None
        except ValidationError as exc:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{os.getpid()}")
            os.replace(self.path, aside)
            first = exc.errors()[0]
            return self.model(), (
                f"{self.path}: unreadable state set aside as {aside.name} "
                f"({'.'.join(str(p) for p in first['loc'])}: {first['msg']}); starting empty"
            )

    def save(self, value: M) -> None:
        """Write atomically: a reader sees the old file or the new one, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(value.model_dump(mode="json"), indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)
