"""The `make demo` stack for end-to-end tests, stood up once per session by
deployments/stack.py's own code (Prefect server with its auth string, work pool, every
deployment of prefect.yaml, the alerts block and automations, one worker) on free ports and a
temp state folder, against the session's flysim. No health-check run, no scheduler (every run
in a test is the test's own). Its server starts on a copy of the run's migrated database
(tests/prefect_database.py); `make demo`'s own test starts from nothing.

Tests share the server and the deployments; each test gets a worker of its own
(`E2EStack.use_worker`) whose flow runs write to the test's own state folder (audit log,
notifications), so no test reads another's records. A test may restart the server or kill the
worker; the stack is whole again when it ends.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prefect.exceptions import ObjectNotFound

from tests.conftest import ROOT, SCENARIO, Flysim, free_port
from tests.e2e.prefect_api import stack_client
from tests.prefect_database import migrated_database, shared_folder
from tests.webhook_receiver import Receiver

DEPLOY_PRODUCTION = "deploy-production/deploy-production"


def stack_module() -> ModuleType:
    """deployments/stack.py (a script, not a package), imported once."""
    name = "hotdash_stack"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "deployments/stack.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing of the test session's Prefect/Fly settings reaches the stack: it starts as
    `make demo` does from a terminal."""
    for key in list(os.environ):
        if key.startswith(("PREFECT_", "FLY", "HOTDASH_")):
            monkeypatch.delenv(key)


def e2e_inventory(folder: Path) -> Path:
    """The shipped inventory without its repository: the scenario's staging image ships as an
    untested image, tagged in the audit log only (the shipped repository is on GitHub)."""
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["deploy"] = {k: v for k, v in data["deploy"].items() if k != "repository"}
    data["deploy"]["repository_env"] = None
    path = folder / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class E2EStack:
    """The session's stack: `stack` and `config` are deployments/stack.py's objects."""

    stack: Any
    config: Any
    flysim: Flysim
    receiver: Receiver
    home: Path
    inventory: Path  # the worker's HOTDASH_INVENTORY (e2e_inventory)

    @property
    def api_url(self) -> str:
        return str(self.config.api_url)

    @property
    def auth_string(self) -> str:
        return str(self.config.auth_string())

    def client(self) -> Any:
        """A sync client for the stack's API (a context manager)."""
        return stack_client(self.api_url, self.auth_string)

    def _child(self, name: str) -> tuple[int, subprocess.Popen[bytes]] | None:
        for index, (child, proc) in enumerate(self.stack.children):
            if child == name:
                return index, proc
        return None

    def stop_worker(self, sig: int = signal.SIGTERM) -> None:
        """Stop the worker and every flow-run process it started (one process group)."""
        found = self._child("worker")
        if found is None:
            return
        index, proc = found
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.stack.children.pop(index)

    def use_worker(self, **env: str) -> None:
        """Replace the worker by one whose environment (and so every flow run's) adds `env`."""
        self.stop_worker()
        shared = self.stack.env
        self.stack.env = {**shared, "HOTDASH_INVENTORY": str(self.inventory), **env}
        try:
            self.stack.start_worker()
        finally:
            self.stack.env = shared

    def restart_server(self) -> float:
        """Stop the Prefect server (SIGTERM, as `make demo`'s Ctrl-C does) and start it again
        on the same port and database; seconds the API was away."""
        found = self._child("prefect-server")
        assert found is not None
        index, proc = found
        down = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        self.stack.children.pop(index)
        self.stack.start_server()  # waits for /api/health
        self.stack.children.insert(index, self.stack.children.pop())  # keep the stop order
        return time.monotonic() - down

    def worker_log(self) -> str:
        return (self.config.state_dir / "logs" / "worker.log").read_text()


def ensure_deployment(stack: Any, name: str, entrypoint: str) -> None:
    """Register `entrypoint` as `name` on the stack's pool unless prefect.yaml already did."""
    with stack_client(stack.config.api_url, stack.config.auth_string()) as client:
        try:
            client.read_deployment_by_name(name)
            return
        except ObjectNotFound:
            pass
    stack.prefect(
        "deploy", entrypoint, "--name", name.split("/")[1], "--pool", stack_module().WORK_POOL
    )


@pytest.fixture(scope="session")
def e2e_stack(
    flysim_server: Flysim, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2EStack]:
    """Up once for the session; stopped (worker, then server) at its end."""
    module = stack_module()
    home = tmp_path_factory.mktemp("e2e-stack")
    with Receiver() as receiver:
        # The stack takes its environment from this process's when it is made (StackConfig,
        # Stack.env); the session's own environment is changed only while it is made.
        with pytest.MonkeyPatch.context() as monkeypatch:
            clean_environment(monkeypatch)
            env = {
                **flysim_server.env(),  # the session's flysim: the stack starts none of its own
                "ALERT_WEBHOOK_URL": receiver.url,  # as `make demo` reads it: the alerts block
                # No cron tick of prefect.yaml (the 15-minute monitor) may start a run.
                "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "HOTDASH_PAUSE_POLL_SECONDS": "1",
                "HOTDASH_APPROVAL_POLL_SECONDS": "1",
                "HOTDASH_CHECKOUT": str(ROOT / "deployments/demo-checkout"),
            }
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            config = module.StackConfig(
                prefect_port=free_port(),
                flysim_port=int(flysim_server.url.rsplit(":", 1)[1]),
                scenario=SCENARIO,
                state_dir=home / "state",
                alert_webhook_url=receiver.url,
            )
            stack = module.Stack(config)
        try:
            database = config.state_dir / "prefect" / "prefect.db"  # PREFECT_HOME/prefect.db
            with migrated_database(database, shared_folder(tmp_path_factory)) as started:
                stack.start_server()
                started()
            stack.register()
            ensure_deployment(
                stack, DEPLOY_PRODUCTION, "flows/deploy_production.py:deploy_production"
            )
            yield E2EStack(stack, config, flysim_server, receiver, home, e2e_inventory(home))
        finally:
            stack.stop()


@pytest.fixture
def e2e(e2e_stack: E2EStack, tmp_path: Path) -> Iterator[tuple[E2EStack, Path]]:
    """The shared stack with a worker of this test's own, flysim in its scenario's state, and
    the state folder this test's flow runs write to; the worker stops with the test."""
    e2e_stack.flysim.reset()
    state = tmp_path / "state"
    e2e_stack.use_worker(HOTDASH_STATE_DIR=str(state))
    try:
        yield e2e_stack, state
    finally:
        e2e_stack.stop_worker()
        e2e_stack.flysim.reset()
