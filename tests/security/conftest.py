"""Fixtures of the security suite: a flyctl recorder, the counts report, flysim state helpers."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN

FLYSIM_FLY = BIN / "flysim-fly"


class FlyctlRecorder:
    """A stand-in `FLYCTL`: appends each call's argv (as JSON) to a file, runs flysim-fly with
    the same argv, keeps a copy of its raw stderr, and passes stdout, stderr and the exit code
    through unchanged."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "fly"
        self.argv_log = folder / "argv.jsonl"
        self.stderr_log = folder / "stderr.log"
        self.path.write_text(
            f"#!{sys.executable}\n"
            "import json, os, subprocess, sys\n"
            f"with open({str(self.argv_log)!r}, 'a', encoding='utf-8') as fh:\n"
            "    fh.write(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd()}) + '\\n')\n"
            f"proc = subprocess.run([{str(FLYSIM_FLY)!r}, *sys.argv[1:]], stderr=subprocess.PIPE)\n"
            "if proc.stderr:\n"
            f"    with open({str(self.stderr_log)!r}, 'ab') as fh:\n"
            "        fh.write(proc.stderr)\n"
            "    sys.stderr.buffer.write(proc.stderr)\n"
            "    sys.stderr.flush()\n"
            "sys.exit(proc.returncode)\n"
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def calls(self) -> list[list[str]]:
        """Every argv flyctl was called with, in order (without the program)."""
        if not self.argv_log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.argv_log.read_text().splitlines()]

    def raw_stderr(self) -> str:
        return self.stderr_log.read_text(errors="replace") if self.stderr_log.exists() else ""

    def clear(self) -> None:
        for path in (self.argv_log, self.stderr_log):
            path.unlink(missing_ok=True)


# The flags the project passes to flyctl; anything else starting with "-" was injected.
FLYCTL_FLAGS = {
    "-a",
    "--image",
    "--strategy",
    "--yes",
    "--json",
    "--remote-only",
    "--image-label",
    "--label",
    "--max-per-region",
    "--vm-memory",
    "-s",
    "--no-tail",
    "--detach",
    "-c",  # a config release: the app config written by the project, in a temp folder
    "--max-unavailable",
}


def check_argv(calls: list[list[str]], user_values: list[str], hostile: list[str]) -> None:
    """Each call is a list of plain strings; each user value is a whole element of some call;
    no element is an unknown option, an `=`-joined option or carries hostile text."""
    assert calls, "flyctl was never called"
    flat = [arg for argv in calls for arg in argv]
    for argv in calls:
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), argv
        for arg in argv:
            if arg.startswith("-"):
                assert arg in FLYCTL_FLAGS, f"unexpected option {arg!r} in {argv}"
            assert "=" not in arg or not arg.startswith("-"), argv
            assert not any(h in arg for h in hostile), f"{arg!r} carries hostile text: {argv}"
    for value in user_values:
        assert value in flat, f"{value!r} is not one argv element in {calls}"


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FlyctlRecorder:
    """FLYCTL points at a recorder in front of flysim-fly (request it after `flysim`)."""
    rec = FlyctlRecorder(tmp_path / "flyctl-recorder")
    monkeypatch.setenv("FLYCTL", str(rec.path))
    return rec


def quick_inventory(folder: Path, repository: Path | None = None, **deploy: Any) -> Path:
    """The shipped inventory with fast test commands, deploying commits of `repository` (a
    tests.git_origin.Origin's path; the flows' own tests do the same)."""
    import yaml

    from tests.conftest import ROOT

    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["deploy"] = {
        **data.get("deploy", {}),
        "repository": str(repository or folder / "no-repository.git"),
        "repository_env": None,
        "test_commands": [[sys.executable, "-c", "print('unit: 3 passed')"]],
        "test_timeout_seconds": 60,
        **deploy,
    }
    path = folder / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# -- flysim's state without the fields that change by themselves ----------------------------


def _strip_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_times(v)
            for k, v in value.items()
            if not (k.endswith("_at") or k in ("time", "timestamp", "created", "updated"))
        }
    if isinstance(value, list):
        return [_strip_times(v) for v in value]
    return value


def steady_state(state: dict[str, Any]) -> dict[str, Any]:
    """`/_sim/state` minus timestamps (and the mutation log, compared on its own)."""
    return _strip_times({k: v for k, v in state.items() if k != "mutations"})
