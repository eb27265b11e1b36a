"""Shared fixtures: a real flysim server (subprocess, real HTTP) and a real Prefect server
(Prefect's test harness: a subprocess API server on SQLite)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "deployments/scenarios/hotdash.yaml"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(url)


class Flysim:
    """A running flysim: its URL, its token, and its control API."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def env(self) -> dict[str, str]:
        """The settings that point hotdash-ops at this flysim."""
        return {
            "FLY_API_HOSTNAME": self.url,
            "FLY_PROMETHEUS_URL": f"{self.url}/prometheus",
            "FLY_API_BASE_URL": self.url,
            "FLYCTL": str(BIN / "flysim-fly"),
            "FLY_APP_URL_TEMPLATE": f"{self.url}/_apps/{{app}}",
            "SUPABASE_URL": f"{self.url}/_ext/supabase/rest/v1/",
            "FLY_API_TOKEN": self.token,
            "FLY_ORG": "personal",
        }

    def state(self) -> dict:  # type: ignore[type-arg]
        return httpx.get(f"{self.url}/_sim/state", timeout=10).raise_for_status().json()

    def reset(self) -> None:
        httpx.post(f"{self.url}/_sim/reset", timeout=10).raise_for_status()

    def patch_app(self, app: str, **changes: object) -> None:
        httpx.patch(f"{self.url}/_sim/apps/{app}", json=changes, timeout=10).raise_for_status()


def start_flysim(scenario: Path = SCENARIO) -> tuple[subprocess.Popen[bytes], Flysim]:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "python"), "-m", "flysim", "--scenario", str(scenario), "--port", str(port)],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_sim/state", proc)
    token = str(yaml.safe_load(scenario.read_text()).get("token") or "")
    return proc, Flysim(url, token)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tiers from what a test needs: a Prefect server (`server`), whole stacks (`e2e`, the
    tests/e2e folder). `make check` runs what needs neither."""
    e2e = ROOT / "tests" / "e2e"
    for item in items:
        if "prefect_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)
        if e2e in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def flysim_server() -> Iterator[Flysim]:
    proc, sim = start_flysim()
    try:
        yield sim
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def flysim(
    flysim_server: Flysim, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Flysim]:
    """flysim in its scenario's state, and the environment pointing at it."""
    flysim_server.reset()
    for key, value in flysim_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOTDASH_INVENTORY", str(ROOT / "deployments/inventory.yaml"))
    monkeypatch.setenv("HOTDASH_STATE_DIR", str(tmp_path / "state"))
    yield flysim_server
    flysim_server.reset()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A real Prefect API server for the session (Prefect's harness, SQLite in a temp dir)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield os.environ.get("PREFECT_API_URL", "")
