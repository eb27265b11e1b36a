"""A real flysim server (subprocess, free port) and a real ``flysim-fly`` for the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "deployments" / "scenarios" / "hotdash.yaml"
FLYSIM_FLY = Path(sys.executable).with_name("flysim-fly")
TOKEN = "flysim-token"


@dataclass
class Sim:
    """The running server: its URL, an authenticated client and a control client."""

    url: str
    api: httpx.Client
    ctl: httpx.Client

    def fly(self, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
        """Run ``flysim-fly`` as a subprocess against this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLY")}
        env.update(FLY_API_HOSTNAME=self.url, FLY_API_TOKEN=token, FLYSIM_USER="ci@hotdash.test")
        return subprocess.run(
            [str(FLYSIM_FLY), *args], env=env, capture_output=True, text=True, timeout=30
        )

    def state(self) -> dict:
        return self.ctl.get("/_sim/state").json()


@pytest.fixture(scope="session")
def sim_server() -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLY")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flysim", "--scenario", str(SCENARIO), "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None,  # the server's tracebacks show in pytest's output
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("flysim listening on "):
            proc.kill()
            raise RuntimeError(f"flysim did not start: {line!r}")
        yield line.removeprefix("flysim listening on ")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def sim(sim_server: str) -> Iterator[Sim]:
    """The server, reset to the scenario before each test."""
    with (
        httpx.Client(
            base_url=sim_server, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ) as api,
        httpx.Client(base_url=sim_server, timeout=10) as ctl,
    ):
        ctl.post("/_sim/reset").raise_for_status()
        yield Sim(url=sim_server, api=api, ctl=ctl)
