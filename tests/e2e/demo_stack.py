"""The `make demo` stack for end-to-end tests, stood up by deployments/stack.py's own code
(flysim, Prefect server with its auth string, work pool, prefect.yaml's deployments, one
worker) on free ports and a temp state folder; no health-check run."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prefect.exceptions import ObjectNotFound

from tests.conftest import ROOT, free_port
from tests.e2e.prefect_api import stack_client

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


@contextmanager
def demo_stack(
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    alert_webhook_url: str | None = None,
    **env: str,
) -> Iterator[tuple[Any, Any]]:
    """(stack, config): up with a worker; everything stopped afterwards. With
    `alert_webhook_url` the stack creates the `hotdash-alerts` block (ALERT_WEBHOOK_URL).
    `env` is added to the environment of the server, the worker and so of every flow run."""
    module = stack_module()
    clean_environment(monkeypatch)
    if alert_webhook_url:
        env = {**env, "ALERT_WEBHOOK_URL": alert_webhook_url}  # as `make demo` reads it
    # Every run in a test is the test's own: no cron tick of prefect.yaml (the 15-minute
    # monitor) may start one in between, or be refused by a deployment concurrency limit.
    env = {"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false", **env}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = module.StackConfig(
        prefect_port=free_port(),
        flysim_port=free_port(),
        scenario=ROOT / "deployments/scenarios/hotdash.yaml",
        state_dir=state_dir,
        alert_webhook_url=alert_webhook_url,
    )
    stack = module.Stack(config)
    try:
        stack.start_flysim()
        stack.start_server()
        stack.register()
        ensure_deployment(stack, DEPLOY_PRODUCTION, "flows/deploy_production.py:deploy_production")
        stack.start_worker()
        yield stack, config
    finally:
        stack.stop()
