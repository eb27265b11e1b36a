"""Run deployments/scale-out's systemd units without systemd (no init system in a test):
read the unit's WorkingDirectory, EnvironmentFile and ExecStart, apply systemd's specifiers
(%i, %H, %%) and ${VAR} expansion, map the install paths to this checkout, and start the
command the way systemd would: its own session, a minimal environment plus the env file.

What is executed is the unit file's own ExecStart line, so a wrong flag in the unit fails
the test. The install paths of the shipped files (/opt/hotdash-ops, /etc/hotdash-ops) are
mapped to the checkout and a test folder.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

SCALE_OUT = ROOT / "deployments/scale-out"
INSTALL_DIR = "/opt/hotdash-ops"
ETC_DIR = "/etc/hotdash-ops"
# systemd's default PATH for services; nothing of the caller's environment leaks in.
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def read_env_file(path: Path) -> dict[str, str]:
    """systemd EnvironmentFile syntax: KEY=value lines, # or ; comments, optional quotes."""
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ValueError(f"{path}: not KEY=value: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def render_env_file(template: Path, target: Path, values: dict[str, str]) -> dict[str, str]:
    """The template with `values` filled in, written owner-only to `target`.

    Every key in `values` must already be in the template: the test only sets what the
    shipped template documents.
    """
    settings = read_env_file(template)
    unknown = sorted(set(values) - set(settings))
    if unknown:
        raise KeyError(f"{template.name} does not document {', '.join(unknown)}")
    lines = []
    for raw in template.read_text().splitlines():
        key = raw.partition("=")[0].strip()
        if raw.strip() and raw.strip()[0] not in "#;" and key in values:
            lines.append(f"{key}={values[key]}")
        else:
            lines.append(raw)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    target.chmod(0o600)
    return read_env_file(target)


@dataclass
class Unit:
    """One [Service] section, with paths mapped to this machine."""

    name: str
    exec_start: list[str]
    working_directory: Path
    environment_files: list[Path]
    kill_mode: str = "control-group"
    environment: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8", "HOME": str(Path.home())}
        for path in self.environment_files:
            env.update(read_env_file(path))
        env.update(self.environment)
        return env

    def argv(self) -> list[str]:
        """ExecStart with ${VAR} and $VAR expanded from the unit's environment."""
        env = self.env()

        def expand(word: str) -> str:
            return re.sub(
                r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), word
            )

        return [expand(word) for word in self.exec_start]


def load_unit(filename: str, *, etc_dir: Path, instance: str = "") -> Unit:
    """Parse deployments/scale-out/<filename>; /etc/hotdash-ops becomes `etc_dir`."""
    text = (SCALE_OUT / filename).read_text()

    def specifiers(value: str) -> str:
        value = value.replace("%%", "\0")
        value = value.replace("%i", instance).replace("%H", socket.gethostname())
        if "%" in value:
            raise ValueError(f"{filename}: unsupported specifier in {value!r}")
        value = value.replace("\0", "%")
        return value.replace(INSTALL_DIR, str(ROOT)).replace(ETC_DIR, str(etc_dir))

    section = ""
    exec_start: list[str] = []
    workdir = ROOT
    env_files: list[Path] = []
    kill_mode = "control-group"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        if section != "[Service]":
            continue
        key, _, value = line.partition("=")
        value = specifiers(value.strip())
        if key == "ExecStart":
            exec_start = shlex.split(value.lstrip("-@+!"))
        elif key == "WorkingDirectory":
            workdir = Path(value)
        elif key == "EnvironmentFile":
            env_files.append(Path(value.lstrip("-")))
        elif key == "KillMode":
            kill_mode = value
    if not exec_start:
        raise ValueError(f"{filename}: no ExecStart in [Service]")
    name = filename.replace("@.", f"@{instance}.") if instance else filename
    return Unit(name, exec_start, workdir, env_files, kill_mode)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, grandchildren, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        frontier += children
    return found


def _default_sigint() -> None:
    """systemd starts a service with every signal at its default; a test run started from a
    shell's `&` has SIGINT ignored, and a worker inheriting that never stops on SIGTERM
    (docs/prefect.md, "Known Prefect issues")."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Service:
    """A unit's process, started as systemd would start it."""

    unit: Unit
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, unit: Unit, log_dir: Path, *, extra_env: dict[str, str] | None = None
    ) -> Service:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{unit.name}.log"
        env = unit.env() | (extra_env or {})
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                unit.argv(),
                cwd=unit.working_directory,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as its own cgroup under systemd
                preexec_fn=_default_sigint,
            )
        return cls(unit, proc, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30, *, everything: bool = False) -> int:
        """`systemctl stop`: SIGTERM to what KillMode names, SIGKILL after `timeout`.

        `everything`: also whatever the unit started, whatever its KillMode (test teardown:
        nothing may outlive the test).
        """
        leftovers = descendants(self.proc.pid) if everything else []
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._signal(signal.SIGKILL)  # what is left, as systemd does at the end
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.proc.wait()

    def kill(self) -> None:
        """`systemctl kill -s KILL`: the unit dies at once, with everything it started."""
        self._signal(signal.SIGKILL)
        self.proc.wait()

    def _signal(self, sig: signal.Signals) -> None:
        # systemd signals the unit's cgroup: the main process and every process under it,
        # also those in a session of their own (flow runs). KillMode=process: the main one.
        pids = [self.proc.pid]
        if self.unit.kill_mode != "process":
            pids += descendants(self.proc.pid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""
