"""`make demo`, as a new user runs it: stack up, health check printed, Ctrl-C stops it all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_make_demo_runs_the_health_check_and_stops_cleanly(tmp_path: Path) -> None:
    prefect_port, flysim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FLY", "HOTDASH_"))}
    env.update(
        PREFECT_SERVER_API_PORT=str(prefect_port),
        FLYSIM_PORT=str(flysim_port),
        HOTDASH_STATE_DIR=str(tmp_path / "state"),
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", "demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so the test can send Ctrl-C to the whole group, as a terminal
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        elapsed = time.monotonic() - started
        output = "".join(lines)
        assert "daily-health-check finished: Completed" in output, output
        # The count is prefect.yaml's, checked on the server (the CLI's boxes wrap names).
        declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
        assert f"deployments   {len(declared)} registered from prefect.yaml" in output, output
        assert f"http://127.0.0.1:{prefect_port}" in output
        # The report leads with its verdict, then every app's row (verdict first).
        assert "**ok: all 5 apps and 2 dependencies healthy**" in output, output
        assert re.search(r"\| hotdash-staging \| \*\*ok\*\* \|", output), output
        # The time is reported (README), not asserted: this machine's load varies.
        print(f"make demo printed its health check after {elapsed:.1f} s")
        assert port_open(prefect_port) and port_open(flysim_port)
        # The Prefect API is not open: without the auth string a request is refused.
        api = f"http://127.0.0.1:{prefect_port}/api"
        assert httpx.post(f"{api}/flow_runs/filter", json={}).status_code == 401
        auth_string = (tmp_path / "state" / "prefect-auth-string").read_text().strip()
        # What to type at the UI's login (README): the whole line, printed by the demo.
        assert f"UI login      paste this whole line in the login page's field: {auth_string}" in (
            output
        )
        user, password = auth_string.split(":", 1)
        runs = httpx.post(f"{api}/flow_runs/filter", json={}, auth=(user, password))
        assert runs.status_code == 200 and len(runs.json()) >= 1
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    # make itself re-raises the SIGINT (as in a terminal); the stack below it stops cleanly.
    assert proc.returncode in (0, -signal.SIGINT), rest
    # A normal stop is just "stopped", without an exit status that reads like a failure.
    stopped = [line for line in rest.splitlines() if line.startswith("stopped ")]
    assert stopped == ["stopped worker", "stopped prefect-server", "stopped flysim"], rest
    assert not port_open(prefect_port) and not port_open(flysim_port)
    # The state folder holds everything, including the server's owner-only auth string.
    auth = tmp_path / "state" / "prefect-auth-string"
    assert auth.exists() and (auth.stat().st_mode & 0o777) == 0o600
    assert (tmp_path / "state" / "prefect" / "prefect.db").exists()
    # The demo's HotDash repository (deploy-staging builds from it, offline).
    # (git may keep the branch in packed-refs, so ask git rather than look for a file)
    main_branch = subprocess.run(
        [
            "git",
            "--git-dir",
            str(tmp_path / "state" / "hotdash.git"),
            "rev-parse",
            "--verify",
            "main",
        ],
        capture_output=True,
        text=True,
    )
    assert main_branch.returncode == 0, main_branch.stderr
