"""Process settings from the environment (env names are the field names upper-cased)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where Fly.io is, how to reach it, and where our files live."""

    model_config = SettingsConfigDict(extra="ignore")

    fly_api_token: SecretStr | None = None
    fly_org: str = "personal"
    fly_api_hostname: str = "https://api.machines.dev"
    fly_prometheus_url: str = "https://api.fly.io/prometheus"
    fly_api_base_url: str = "https://api.fly.io"
    flyctl: str = "fly"
    fly_app_url_template: str = "https://{app}.fly.dev"
    hotdash_inventory: Path = Path("deployments/inventory.yaml")
    hotdash_state_dir: Path = Path(".state")
    # Per request; reads are retried with backoff on top of this (hotdash_ops/fly/http.py).
    fly_http_timeout_seconds: float = 10.0
    # The first wait before a read is retried; each later wait doubles (0.5, 1, 2 s).
    fly_http_backoff_seconds: float = 0.5
    # flyctl's time limits (hotdash_ops/fly/flyctl.py): then SIGTERM, the grace, SIGKILL.
    # A deploy's limit stays well above flyctl's own waits (5 min per machine, 5 for a
    # release command).
    flyctl_timeout_seconds: float = Field(default=600.0, gt=0)
    flyctl_deploy_timeout_seconds: float = Field(default=3600.0, gt=0)
    flyctl_grace_seconds: float = Field(default=30.0, ge=0)
    # A canary analysis samples every machine this often (hotdash_ops.deploys.canary). Fly
    # scrapes metrics every 15 s (docs monitoring/metrics), so faster mostly repeats values;
    # the tests shorten it.
    hotdash_canary_sample_seconds: float = Field(default=15.0, gt=0)

    def app_url(self, app: str, path: str = "/") -> str:
        """The public URL of `app` (from FLY_APP_URL_TEMPLATE) joined with `path`."""
        base = self.fly_app_url_template.format(app=app).rstrip("/")
        return base + "/" + path.lstrip("/")

    def token(self) -> str | None:
        """The Fly API token's value, or None when none is configured."""
        if self.fly_api_token is None:
            return None
        value = self.fly_api_token.get_secret_value().strip()
        return value or None
