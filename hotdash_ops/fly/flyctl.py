"""The flyctl runner: every mutation the runbook does with `fly ...` (deploy, scale, restart,
volumes) and the reads that only flyctl has (releases, status).

Always an argv list to `subprocess` (never a shell); the token travels only in the child's
environment as FLY_API_TOKEN (argv is visible in `ps`); every user value is validated first,
so nothing starting with `-` can become an option; stderr/stdout/argv are redacted before
they reach a result or an exception.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from hotdash_ops import validation
from hotdash_ops.errors import FlyctlError
from hotdash_ops.models import (
    AppStatus,
    Guest,
    LogEntry,
    Release,
    SecretInfo,
    Volume,
    VolumeExtendResult,
    parse_flyctl_log_stream,
    validate_vm,
)
from hotdash_ops.redaction import Redactor, default_redactor

STRATEGIES = ("rolling", "immediate", "canary", "bluegreen")
MAX_COUNT = 100  # a guard against typos like `scale count 300`, not a Fly limit
MAX_VOLUME_GB = 500  # Fly's volume size limit

_RELEASES = TypeAdapter(list[Release])
_VOLUMES = TypeAdapter(list[Volume])
_SECRETS = TypeAdapter(list[SecretInfo])
_GUESTS = TypeAdapter(dict[str, Guest])


class FlyctlResult(BaseModel):
    """A finished flyctl command (argv, stdout and stderr redacted)."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float


def _command_argv(command: str) -> list[str]:
    # A path or a name on PATH is one word, even with spaces; otherwise allow
    # "python -m flysim.cli" style commands.
    if os.path.exists(command) or shutil.which(command):
        return [command]
    return shlex.split(command)


def _count(value: int, field: str, *, low: int, high: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: must be an integer")
    if not low <= value <= high:
        raise ValueError(f"{field}: must be between {low} and {high}, not {value}")
    return str(value)


class Flyctl:
    """Runs `fly` (or FLYCTL: the simulator's `flysim-fly` stands in for it in tests)."""

    def __init__(
        self,
        *,
        command: str = "fly",
        token: str | None = None,
        timeout: float = 600.0,
        env: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.command = command
        self.timeout = timeout
        self._token = token
        self._extra_env = dict(env or {})
        self.redactor = redactor or default_redactor()
        self.redactor.add(token)

    def _child_env(self) -> dict[str, str]:
        child = {**os.environ, **self._extra_env}
        if self._token:
            child["FLY_API_TOKEN"] = self._token
        child.setdefault("FLY_NO_UPDATE_CHECK", "1")  # no update prompt in unattended runs
        return child

    def run(
        self, args: Sequence[str], *, timeout: float | None = None, cwd: Path | None = None
    ) -> FlyctlResult:
        """Run `fly ARGS...`; non-zero exit or timeout raises FlyctlError."""
        argv = [*_command_argv(self.command), *args]
        shown = [self.redactor.redact(a) for a in argv]
        limit = self.timeout if timeout is None else timeout
        started = time.perf_counter()
        try:
            # A new session so a timeout kills flyctl's children too (it spawns helpers).
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._child_env(),
                cwd=cwd,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise FlyctlError(
                f"cannot run {shown[0]!r}: {exc.strerror}", exit_code=127, stderr="", argv=shown
            ) from None
        try:
            stdout, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, stderr = proc.communicate()
            raise FlyctlError(
                f"{' '.join(shown[:3])}: timed out after {limit:g} s",
                exit_code=-1,
                stderr=self.redactor.redact(stderr or ""),
                argv=shown,
            ) from None
        result = FlyctlResult(
            argv=shown,
            exit_code=proc.returncode,
            stdout=self.redactor.redact(stdout),
            stderr=self.redactor.redact(stderr),
            duration_s=round(time.perf_counter() - started, 3),
        )
        if result.exit_code != 0:
            raise FlyctlError(
                f"{' '.join(shown[:3])} failed",
                exit_code=result.exit_code,
                stderr=result.stderr,
                argv=shown,
            )
        return result

    def run_json(self, args: Sequence[str], *, timeout: float | None = None) -> Any:
        """Run with `--json` appended and parse stdout."""
        result = self.run([*args, "--json"], timeout=timeout)
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise FlyctlError(
                f"{' '.join(result.argv[:3])}: output is not JSON ({exc.msg})",
                exit_code=0,
                stderr=result.stdout[:500],
                argv=result.argv,
            ) from None

    # -- reads ---------------------------------------------------------------------------

    def status(self, app: str) -> AppStatus:
        """`fly status -a APP --json` (runbook: Check service status)."""
        validation.app_name(app)
        return AppStatus.model_validate(self.run_json(["status", "-a", app]))

    def releases(self, app: str) -> list[Release]:
        """`fly releases -a APP --json`: newest first; the source of rollback targets."""
        validation.app_name(app)
        return _RELEASES.validate_python(self.run_json(["releases", "-a", app]))

    def volumes(self, app: str) -> list[Volume]:
        """`fly volumes list -a APP --json` (runbook: List volumes)."""
        validation.app_name(app)
        return _VOLUMES.validate_python(self.run_json(["volumes", "list", "-a", app]) or [])

    def secrets(self, app: str) -> list[SecretInfo]:
        """`fly secrets list -a APP --json`: names and digests, never values."""
        validation.app_name(app)
        return _SECRETS.validate_python(self.run_json(["secrets", "list", "-a", app]) or [])

    def logs(self, app: str) -> list[LogEntry]:
        """`fly logs -a APP --no-tail --json` (runbook: Review overnight alerts)."""
        validation.app_name(app)
        result = self.run(["logs", "-a", app, "--no-tail", "--json"])
        return parse_flyctl_log_stream(result.stdout)

    def vm_sizes(self) -> dict[str, Guest]:
        """`fly platform vm-sizes --json`: preset name -> guest."""
        return _GUESTS.validate_python(self.run_json(["platform", "vm-sizes"]))

    # -- mutations -----------------------------------------------------------------------

    def deploy(self, app: str, image: str, *, strategy: str = "rolling") -> FlyctlResult:
        """`fly deploy -a APP --image IMAGE --strategy S --yes` (deploys and rollbacks)."""
        validation.app_name(app)
        validation.image_ref(image)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy: must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        return self.run(["deploy", "-a", app, "--image", image, "--strategy", strategy, "--yes"])

    def deploy_source(
        self,
        app: str,
        source_dir: Path,
        *,
        image_label: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> FlyctlResult:
        """`fly deploy -a APP --remote-only [--image-label L] [--label K=V ...] --yes` in
        `source_dir`: Fly's builders build the image from that directory. `--image-label`
        names the image `registry.fly.io/APP:L` (flyctl's default is `deployment-<ULID>`),
        `--label` writes Docker labels into it, which the Machines API then shows in each
        machine's `image_ref.labels` (superfly/flyctl@ad0172fa internal/flag/flag.go
        `ImageLabel`, internal/command/deploy/deploy.go `label`, deploy_build.go)."""
        validation.app_name(app)
        if not Path(source_dir).is_dir():
            raise ValueError(f"source_dir: {source_dir} is not a directory")
        args = ["deploy", "-a", app, "--remote-only"]
        if image_label is not None:
            args += ["--image-label", validation.image_label(image_label)]
        for key, value in (labels or {}).items():
            args += ["--label", validation.image_metadata_label(key, value)]
        return self.run([*args, "--yes"], cwd=Path(source_dir))

    def scale_count(
        self, app: str, count: int, *, max_per_region: int | None = None
    ) -> FlyctlResult:
        """`fly scale count N -a APP [--max-per-region M] --yes` (runbook: Horizontal Scaling)."""
        validation.app_name(app)
        args = ["scale", "count", _count(count, "count", low=0, high=MAX_COUNT), "-a", app]
        if max_per_region is not None:
            args += ["--max-per-region", _count(max_per_region, "max_per_region", low=1, high=100)]
        return self.run([*args, "--yes"])

    def scale_vm(self, app: str, size: str, *, memory_mb: int | None = None) -> FlyctlResult:
        """`fly scale vm SIZE -a APP [--vm-memory MB]` (runbook: Vertical Scaling)."""
        validation.app_name(app)
        validate_vm(size, memory_mb)
        args = ["scale", "vm", size, "-a", app]
        if memory_mb is not None:
            args += ["--vm-memory", str(memory_mb)]
        return self.run(args)

    def restart(self, app: str) -> FlyctlResult:
        """`fly apps restart APP` (runbook: If memory leak, restart)."""
        validation.app_name(app)
        return self.run(["apps", "restart", app])

    def volume_extend(self, app: str, volume_id: str, size_gb: int) -> VolumeExtendResult:
        """`fly volumes extend ID -s N -a APP --yes --json`. flyctl prints only the Volume, so
        `needs_restart` is None unless the answer carries it."""
        validation.app_name(app)
        validation.volume_id(volume_id)
        size = _count(size_gb, "size_gb", low=1, high=MAX_VOLUME_GB)
        body = self.run_json(["volumes", "extend", volume_id, "-s", size, "-a", app, "--yes"])
        if isinstance(body, dict) and "volume" in body:
            return VolumeExtendResult.model_validate(body)
        return VolumeExtendResult(volume=Volume.model_validate(body))

    def volume_delete(self, app: str, volume_id: str) -> FlyctlResult:
        """`fly volumes delete ID -a APP --yes` (runbook: Delete unused volume)."""
        validation.app_name(app)
        validation.volume_id(volume_id)
        return self.run(["volumes", "delete", volume_id, "-a", app, "--yes"])
