"""Access to Fly.io for tasks: settings, the token, and the clients built from them.

The token comes from the environment (`FLY_API_TOKEN`) or, when that is unset, from the
Prefect Secret block `fly-api-token`; never from a flow parameter (parameters are stored in
plain text).
"""

from __future__ import annotations

import os

import httpx

from hotdash_ops.fly.flyctl import Flyctl
from hotdash_ops.fly.logs import LogsClient
from hotdash_ops.fly.machines import MachinesClient
from hotdash_ops.fly.prometheus import PrometheusClient
from hotdash_ops.inventory import Inventory, load_inventory
from hotdash_ops.redaction import default_redactor
from hotdash_ops.settings import Settings

SECRET_BLOCK = "fly-api-token"


def settings() -> Settings:
    return Settings()


def secret(env: str, block: str | None) -> str | None:
    """The value of environment variable `env`, else of the Prefect Secret block `block`, else
    None. A value from the block is put into this run's environment under `env`, so every
    redactor (built from the environment; `env` is named like a secret) removes it and child
    processes that read `env` get it."""
    value = (os.environ.get(env) or "").strip()
    if value or block is None:
        return value or None
    from prefect.blocks.system import Secret

    try:
        found = Secret.load(block, _sync=True)  # type: ignore[call-arg]
    except (ValueError, RuntimeError):
        return None
    value = str(found.get()).strip()
    if not value:
        return None
    os.environ[env] = value
    return value


def fly_token(cfg: Settings | None = None) -> str | None:
    """FLY_API_TOKEN, else the `fly-api-token` Secret block, else None."""
    token = (cfg or settings()).token()
    return token or secret("FLY_API_TOKEN", SECRET_BLOCK)


def inventory(cfg: Settings | None = None) -> Inventory:
    return load_inventory((cfg or settings()).hotdash_inventory)


def machines_client(
    cfg: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> MachinesClient:
    cfg = cfg or settings()
    return MachinesClient(
        base_url=cfg.fly_api_hostname,
        token=fly_token(cfg),
        transport=transport,
        timeout=cfg.fly_http_timeout_seconds,
        backoff_seconds=cfg.fly_http_backoff_seconds,
    )


def prometheus_client(cfg: Settings | None = None) -> PrometheusClient:
    cfg = cfg or settings()
    return PrometheusClient(
        base_url=cfg.fly_prometheus_url,
        org=cfg.fly_org,
        token=fly_token(cfg),
        timeout=cfg.fly_http_timeout_seconds,
        backoff_seconds=cfg.fly_http_backoff_seconds,
    )


def logs_client(cfg: Settings | None = None) -> LogsClient:
    cfg = cfg or settings()
    return LogsClient(
        base_url=cfg.fly_api_base_url,
        token=fly_token(cfg),
        timeout=cfg.fly_http_timeout_seconds,
        backoff_seconds=cfg.fly_http_backoff_seconds,
    )


def flyctl(cfg: Settings | None = None) -> Flyctl:
    cfg = cfg or settings()
    return Flyctl(
        command=cfg.flyctl,
        token=fly_token(cfg),
        timeout=cfg.flyctl_timeout_seconds,
        deploy_timeout=cfg.flyctl_deploy_timeout_seconds,
        grace=cfg.flyctl_grace_seconds,
        redactor=default_redactor(),
    )
