"""The deploy's tests (runbook: `npm run test:unit`, `npm run test:e2e`), run as argv lists.

Each command runs in the checkout without a shell, its stdout and stderr merged and handed
line by line to a callback (the flow's log), secrets removed. The Fly token is not passed to
the tests: they have no business deploying. A command that exits non-zero, times out or
cannot start fails the tests, and the commands after it are not run.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from hotdash_ops.redaction import Redactor, default_redactor

# Never handed to the tests: flyctl reads both (flyctl `internal/config/config.go`).
_WITHHELD = ("FLY_API_TOKEN", "FLY_ACCESS_TOKEN")
TAIL_LINES = 20


class CommandResult(BaseModel):
    """One finished test command."""

    argv: list[str]
    exit_code: int | None  # None: it could not start, or was killed at the timeout
    duration_s: float
    timed_out: bool = False
    error: str | None = None
    tail: list[str] = Field(default_factory=list)  # the last lines of its output

    @property
    def ok(self) -> bool:
        """It ran and exited 0."""
        return self.exit_code == 0 and not self.timed_out

    @property
    def command(self) -> str:
        """The command as a person would type it."""
        return shlex.join(self.argv)

    def describe(self) -> str:
        """ "`npm run test:unit` exited 1" (or passed, timed out, could not start)."""
        if self.error:
            return f"`{self.command}` could not start: {self.error}"
        if self.timed_out:
            return f"`{self.command}` timed out after {self.duration_s:.0f} s"
        if self.exit_code == 0:
            return f"`{self.command}` passed in {self.duration_s:.1f} s"
        return f"`{self.command}` exited {self.exit_code}"


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """The tests' environment: ours without the Fly token, CI=1 (nothing waits for input)."""
    child = {k: v for k, v in env.items() if k.upper() not in _WITHHELD}
    child.setdefault("CI", "1")
    return child


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    on_line: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
) -> CommandResult:
    """Run one command, streaming its output lines to `on_line` as they come."""
    redactor = redactor or default_redactor()
    started = time.perf_counter()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=child_env(os.environ if env is None else env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,  # so a timeout kills the whole tree (npm spawns node)
        )
    except OSError as exc:
        return CommandResult(
            argv=list(argv),
            exit_code=None,
            duration_s=round(time.perf_counter() - started, 3),
            error=exc.strerror or str(exc),
        )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = redactor.redact(raw.rstrip("\n"))
            tail.append(line)
            on_line(line)
        code = proc.wait()
    finally:
        timer.cancel()
    return CommandResult(
        argv=list(argv),
        exit_code=None if timed_out.is_set() else code,
        duration_s=round(time.perf_counter() - started, 3),
        timed_out=timed_out.is_set(),
        tail=list(tail),
    )


def _labelled(on_line: Callable[[str, str], None], label: str) -> Callable[[str], None]:
    return lambda line: on_line(label, line)


def run_commands(
    commands: Sequence[Sequence[str]],
    *,
    cwd: Path,
    timeout: float,
    on_line: Callable[[str, str], None],
    env: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
) -> list[CommandResult]:
    """Run the commands in order until one fails; `on_line(command, line)` gets the output."""
    if not Path(cwd).is_dir():
        raise ValueError(f"checkout: {cwd} is not a directory")
    results: list[CommandResult] = []
    for argv in commands:
        result = run_command(
            argv,
            cwd=cwd,
            timeout=timeout,
            on_line=_labelled(on_line, shlex.join(argv)),
            env=env,
            redactor=redactor,
        )
        results.append(result)
        if not result.ok:
            break
    return results


def summary(results: Sequence[CommandResult]) -> str:
    """ "tests passed (2 commands)" or "tests failed: `npm run test:unit` exited 1"."""
    failed = [r for r in results if not r.ok]
    if failed:
        return "tests failed: " + failed[0].describe()
    return f"tests passed ({len(results)} command{'s' if len(results) != 1 else ''})"
