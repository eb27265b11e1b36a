"""The flyctl runner: every mutation the runbook does with `fly ...` (deploy, scale, restart,
volumes) and the reads that only flyctl has (releases, status).

Always an argv list to `subprocess` (never a shell); the token travels only in the child's
environment as FLY_API_TOKEN (argv is visible in `ps`), and FLY_ACCESS_TOKEN is removed from
it: flyctl reads FLY_ACCESS_TOKEN first (superfly/flyctl@ad0172fa internal/config/config.go
`applyEnv`), so a stray one would run every command as someone else. Every user value is
validated first, so nothing starting with `-` can become an option; stderr/stdout/argv are
redacted before they reach a result or an exception.

Time limits: flyctl handles SIGINT and SIGTERM, not SIGKILL: on either signal it stops and
marks the deploy's release `interrupted` (main.go `signal.NotifyContext`;
internal/command/deploy/machines_deploymachinesapp.go), while a SIGKILLed flyctl leaves the
release `running` and the app half deployed. So a command that outlives its limit gets
SIGTERM, a grace period, and only then SIGKILL. A deploy's limit (`deploy_timeout`, default
an hour) is well above flyctl's own waits: up to 5 minutes for each machine to start and
pass its checks (`--wait-timeout`) and 5 for a release command (machines.go
`DefaultWaitTimeout`, `DefaultReleaseCommandTimeout`).
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


def _signal_group(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    # flyctl runs in its own session (start_new_session): its helpers get the signal too.
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


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
        deploy_timeout: float = 3600.0,
        grace: float = 30.0,
        env: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.command = command
        self.timeout = timeout
        self.deploy_timeout = deploy_timeout
        self.grace = grace
        self._token = token
        self._extra_env = dict(env or {})
        self.redactor = redactor or default_redactor()
        self.redactor.add(token)

    def _child_env(self) -> dict[str, str]:
        child = {**os.environ, **self._extra_env}
        child.pop("FLY_ACCESS_TOKEN", None)  # flyctl would prefer it to the configured token
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
            ended, stderr = self._stop(proc)
            raise FlyctlError(
                f"{' '.join(shown[:3])}: timed out after {limit:g} s; {ended}",
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

    def _stop(self, proc: subprocess.Popen[str]) -> tuple[str, str]:
        """SIGTERM to flyctl's process group, `grace` seconds to stop, then SIGKILL. Returns
        how it ended and what it wrote to stderr."""
        _signal_group(proc, signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=self.grace)
            return f"stopped with SIGTERM (flyctl exited {proc.returncode})", stderr
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            _, stderr = proc.communicate()
            return f"killed with SIGKILL after a {self.grace:g} s grace period", stderr

    def run_json(
        self, args: Sequence[str], *, timeout: float | None = None, flag: bool = True
    ) -> Any:
        """Run with `--json` appended (unless `flag` is off: a command that prints JSON
        without it, e.g. `fly config show`) and parse stdout."""
        result = self.run([*args, "--json"] if flag else list(args), timeout=timeout)
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

    def config_show(self, app: str) -> dict[str, Any]:
        """`fly config show -a APP`: the app config the current release carries (JSON is the
        command's default; it has no `--json` flag: internal/command/config/show.go)."""
        validation.app_name(app)
        config = self.run_json(["config", "show", "-a", app], flag=False)
        if not isinstance(config, dict):
            raise ValueError(f"fly config show -a {app}: not an app config: {str(config)[:200]}")
        return config

    def vm_sizes(self) -> dict[str, Guest]:
        """`fly platform vm-sizes --json`: preset name -> guest."""
        return _GUESTS.validate_python(self.run_json(["platform", "vm-sizes"]))

    # -- mutations -----------------------------------------------------------------------

    def deploy(
        self,
        app: str,
        image: str,
        *,
        strategy: str = "rolling",
        config: Path | None = None,
        max_unavailable: int | None = None,
    ) -> FlyctlResult:
        """`fly deploy -a APP --image IMAGE --strategy S --yes` (deploys and rollbacks), with
        `-c CONFIG` to deploy a changed app config and `--max-unavailable N` to bound how many
        machines a rolling deploy takes down at once. Limited by `deploy_timeout`."""
        validation.app_name(app)
        validation.image_ref(image)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy: must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        args = ["deploy", "-a", app, "--image", image, "--strategy", strategy]
        if config is not None:
            if not Path(config).is_file():
                raise ValueError(f"config: {config} is not a file")
            args += ["-c", str(config)]
        if max_unavailable is not None:
            args += ["--max-unavailable", _count(max_unavailable, "max_unavailable", low=1,
                                                 high=MAX_COUNT)]  # fmt: skip
        return self.run([*args, "--yes"], timeout=self.deploy_timeout)

    def deploy_source(
        self,
        app: str,
        source_dir: Path,
        *,
        image_label: str | None = None,
        labels: Mapping[str, str] | None = None,
        config: Path | None = None,
    ) -> FlyctlResult:
        """`fly deploy -a APP --remote-only [-c CONFIG] [--image-label L] [--label K=V ...]
        --yes` in `source_dir`: Fly's builders build the image from that directory. `--image-label`
        names the image `registry.fly.io/APP:L` (flyctl's default is `deployment-<ULID>`),
        `--label` writes Docker labels into it, which the Machines API then shows in each
        machine's `image_ref.labels` (superfly/flyctl@ad0172fa internal/flag/flag.go
        `ImageLabel`, internal/command/deploy/deploy.go `label`, deploy_build.go). `-c`: an
        app config file instead of `source_dir`'s fly.toml. Limited by `deploy_timeout`."""
        validation.app_name(app)
        if not Path(source_dir).is_dir():
            raise ValueError(f"source_dir: {source_dir} is not a directory")
        args = ["deploy", "-a", app, "--remote-only"]
        if config is not None:
            if not Path(config).is_file():
                raise ValueError(f"config: {config} is not a file")
            args += ["-c", str(config)]
        if image_label is not None:
            args += ["--image-label", validation.image_label(image_label)]
        for key, value in (labels or {}).items():
            args += ["--label", validation.image_metadata_label(key, value)]
        return self.run([*args, "--yes"], cwd=Path(source_dir), timeout=self.deploy_timeout)

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

    def volume_snapshot(self, app: str, volume_id: str) -> FlyctlResult:
        """`fly volumes snapshots create ID -a APP`: schedules an on-demand snapshot. flyctl
        takes no --yes and prints "Scheduled to snapshot volume ID" even with --json
        (`internal/command/volumes/snapshots/create.go`): the snapshot is read back with
        `MachinesClient.list_volume_snapshots`."""
        validation.app_name(app)
        validation.volume_id(volume_id)
        return self.run(["volumes", "snapshots", "create", volume_id, "-a", app])

    def volume_delete(self, app: str, volume_id: str) -> FlyctlResult:
        """`fly volumes delete ID -a APP --yes` (runbook: Delete unused volume)."""
        validation.app_name(app)
        validation.volume_id(volume_id)
        return self.run(["volumes", "delete", volume_id, "-a", app, "--yes"])
