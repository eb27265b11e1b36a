"""The session's flysim server (tests/conftest.py) and a real ``flysim-fly`` for the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import Flysim

FLYSIM_FLY = Path(sys.executable).with_name("flysim-fly")
TOKEN = "flysim-token"


@dataclass
class Sim:
    """The running server: its URL, an authenticated client and a control client."""

    url: str
    api: httpx.Client
    ctl: httpx.Client

    def fly_env(self, token: str = TOKEN, **extra: str) -> dict[str, str]:
        """The environment ``flysim-fly`` runs with (no FLY* variable of the test process)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLY")}
        env.update(FLY_API_HOSTNAME=self.url, FLY_API_TOKEN=token, FLYSIM_USER="ci@hotdash.test")
        env.update(extra)
        return env

    def fly(
        self, *args: str, token: str = TOKEN, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``flysim-fly`` as a subprocess against this server."""
        return subprocess.run(
            [str(FLYSIM_FLY), *args], env=self.fly_env(token, **env), capture_output=True,
            text=True, timeout=30, cwd=cwd,
        )  # fmt: skip

    def state(self) -> dict:
        return self.ctl.get("/_sim/state").json()


@pytest.fixture(scope="session")
def sim_server(flysim_server: Flysim) -> str:
    """The session's one flysim (tests/conftest.py), by URL."""
    return flysim_server.url


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
