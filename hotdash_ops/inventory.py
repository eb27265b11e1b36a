"""The inventory (deployments/inventory.yaml): environments, apps, thresholds, approvers.

The code serves any Fly.io organisation; HotDash is the inventory it ships with.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hotdash_ops.deploys.canary import AppDeploy
from hotdash_ops.monitor.error_budget import AppSlos
from hotdash_ops.redaction import SECRET_SUFFIXES
from hotdash_ops.validation import AppName, ServiceUrl, field_problems

Role = Literal["web", "background"]
ApproverRole = Literal["manager", "reliability"]

# The runbook's Alert Response thresholds for web apps; background workers get more headroom.
ROLE_THRESHOLDS: dict[str, dict[str, float]] = {
    "web": {"cpu_pct": 80.0, "mem_pct": 85.0, "response_ms": 2000.0},
    "background": {"cpu_pct": 90.0, "mem_pct": 90.0, "response_ms": 5000.0},
}


class _Strict(BaseModel):
    # A typo in the inventory should fail loudly, not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class Thresholds(_Strict):
    """Alert thresholds (runbook Alert Response: CPU >80 %, memory >85 %, response >2 s)."""

    cpu_pct: float = Field(gt=0, le=100)
    mem_pct: float = Field(gt=0, le=100)
    response_ms: float = Field(gt=0)
    error_rate_warn: float = Field(default=0.01, ge=0, le=1)  # 5xx share: 1 % warns
    error_rate_crit: float = Field(default=0.05, ge=0, le=1)  # 5 % fails

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.error_rate_crit < self.error_rate_warn:
            raise ValueError("error_rate_crit: must be >= error_rate_warn")
        return self


class SmokeCheck(_Strict):
    """One endpoint of the automated smoke test: path, expected status, latency budget."""

    path: str
    status: int = Field(default=200, ge=100, le=599)
    budget_ms: float | None = Field(default=None, gt=0)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith("//"):
            raise ValueError("path: must start with a single '/'")
        return value


# An environment's name as a form field (staging, production); checked against the inventory.
EnvironmentName = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$", description="staging or production")
]
# An HTTP header name (RFC 9110 token characters).
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", max_length=100)]


class SecretHeader(_Strict):
    """A header whose value is a secret: the environment variable `env`, else the Prefect
    Secret block `secret_block`. Never written in the inventory itself."""

    env: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    secret_block: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    prefix: str = Field(default="", pattern=r"^[A-Za-z]*( )?$")  # e.g. "Bearer "

    @field_validator("env")
    @classmethod
    def _redacted(cls, value: str) -> str:
        # The redactor removes the values of variables named like secrets (hotdash_ops.redaction).
        if not value.endswith(SECRET_SUFFIXES):
            raise ValueError(
                f"{value} must end with {', '.join(SECRET_SUFFIXES)} "
                "(so its value is removed from every log, artifact and message)"
            )
        return value


class Dependency(_Strict):
    """An external service the apps need (runbook "Verify dependencies (Supabase, Shopify)"),
    checked by URL with the headers it requires."""

    name: AppName  # its alerts are keyed like an app's: same characters, never an app's name
    url: ServiceUrl
    url_env: str | None = None  # env var that overrides `url` (e.g. SUPABASE_URL)
    expected_status: list[int] = Field(default_factory=lambda: [200])
    headers: dict[HeaderName, SecretHeader] = Field(default_factory=dict)
    description: str = ""

    def resolved_url(self, env: dict[str, str] | None = None) -> str:
        """`url`, or the value of `url_env` in `env` when set there."""
        if self.url_env and env and env.get(self.url_env):
            return env[self.url_env]
        return self.url


class AppSpec(_Strict):
    """One Fly app we operate."""

    name: AppName
    environment: str | None = None
    role: Role
    health_path: str = "/health"
    smoke: list[SmokeCheck] = Field(default_factory=list)
    thresholds: Thresholds
    dependencies: list[str] = Field(default_factory=list)
    description: str = ""
    # Request `health_path` also while every machine is stopped? A request makes Fly Proxy
    # start one (hotdash_ops.monitor.probe). Default: yes for web apps, no for background ones.
    probe_when_stopped: bool = True
    # deploy-production's strategy for this app (rolling, or canary and its analysis):
    # hotdash_ops.deploys.canary
    deploy: AppDeploy = Field(default_factory=AppDeploy)
    # Service level objectives: error budgets and burn-rate alerts (hotdash_ops.monitor.slo)
    slo: AppSlos | None = None

    @model_validator(mode="before")
    @classmethod
    def _role_thresholds(cls, data: Any) -> Any:
        # Thresholds not written in the file come from the role's defaults.
        if isinstance(data, dict):
            role = data.get("role")
            given = data.get("thresholds") or {}
            if role in ROLE_THRESHOLDS and isinstance(given, dict):
                data = {**data, "thresholds": {**ROLE_THRESHOLDS[role], **given}}
            if "probe_when_stopped" not in data:
                data = {**data, "probe_when_stopped": role != "background"}
        return data


class Environment(_Strict):
    """A deploy environment and the app that serves it."""

    name: str
    app: AppName


class Inventory(_Strict):
    """Everything the flows need to know about the fleet."""

    org: str
    timezone: str = "UTC"
    environments: dict[str, Environment] = Field(default_factory=dict)
    apps: list[AppSpec]
    dependencies: list[Dependency] = Field(default_factory=list)
    approvers: dict[ApproverRole, list[str]] = Field(default_factory=dict)  # empty = anyone
    billing_links: list[str] = Field(default_factory=list)
    prices: dict[str, Any] | None = None  # cost pricing: defined by the cost module's owner
    deploy: dict[str, Any] = Field(default_factory=dict)  # test commands, deploy window
    # scale-app limits: validated by hotdash_ops.scaling.scaling_policy
    scaling: dict[str, Any] = Field(default_factory=dict)
    # incident-response guardrails: validated by hotdash_ops.incidents.response.incident_policy
    incident: dict[str, Any] = Field(default_factory=dict)
    # alert policy (fire_after, resolve_after, reminders):
    # hotdash_ops.monitor.alert_state.AlertPolicy
    alerts: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: {value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _env_names(cls, data: Any) -> Any:
        # `x-*` keys hold YAML anchors (shared smoke lists), as in docker-compose files.
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
        # `environments: {staging: {app: x}}` need not repeat the name.
        if isinstance(data, dict) and isinstance(data.get("environments"), dict):
            envs = {
                k: ({"name": k, **v} if isinstance(v, dict) else v)
                for k, v in data["environments"].items()
            }
            data = {**data, "environments": envs}
        return data

    @model_validator(mode="after")
    def _references(self) -> Inventory:
        names = [a.name for a in self.apps]
        if len(set(names)) != len(names):
            raise ValueError("apps: duplicate app names")
        deps = {d.name for d in self.dependencies}
        if len(deps) != len(self.dependencies):
            raise ValueError("dependencies: duplicate dependency names")
        for clash in sorted(deps & set(names)):
            raise ValueError(f"dependencies.{clash}: an app has the same name")
        for spec in self.apps:
            for dep in spec.dependencies:
                if dep not in deps:
                    raise ValueError(f"apps.{spec.name}.dependencies: unknown dependency {dep!r}")
        for key, env in self.environments.items():
            if env.app not in names:
                raise ValueError(f"environments.{key}.app: {env.app!r} is not in apps")
        return self

    def app(self, name: str) -> AppSpec:
        """The spec of app `name`; KeyError naming the known apps otherwise."""
        for spec in self.apps:
            if spec.name == name:
                return spec
        known = ", ".join(a.name for a in self.apps)
        raise KeyError(f"app {name!r} is not in the inventory (known: {known})")

    @property
    def web_apps(self) -> list[AppSpec]:
        """Apps serving users over HTTP."""
        return [a for a in self.apps if a.role == "web"]

    @property
    def background_apps(self) -> list[AppSpec]:
        """Workers and services that can stop when idle."""
        return [a for a in self.apps if a.role == "background"]

    def environment_of(self, app: str) -> str | None:
        """The environment `app` serves (staging, production), None for the others."""
        return next((k for k, e in self.environments.items() if e.app == app), None)

    def environment_app(self, env: str) -> AppSpec:
        """The app serving environment `env` (staging, production)."""
        if env not in self.environments:
            known = ", ".join(self.environments)
            raise KeyError(f"environment {env!r} is not in the inventory (known: {known})")
        return self.app(self.environments[env].app)

    def app_or_refuse(self, name: str) -> AppSpec:
        """`app`, with a refusal naming the `app` field (a form's input)."""
        try:
            return self.app(name)
        except KeyError as exc:
            raise ValueError(f"app: {exc.args[0]}") from None

    def environment_app_or_refuse(self, env: str) -> AppSpec:
        """`environment_app`, with a refusal naming the `environment` field (a form's input)."""
        try:
            return self.environment_app(env)
        except KeyError as exc:
            raise ValueError(f"environment: {exc.args[0]}") from None

    def dependency(self, name: str) -> Dependency:
        """The dependency called `name`."""
        for dep in self.dependencies:
            if dep.name == name:
                return dep
        raise KeyError(f"dependency {name!r} is not in the inventory")


class InventoryError(ValueError):
    """The inventory file is missing, not YAML, or fails validation (message names the field)."""


# libyaml's safe loader where PyYAML has it (its wheels do): the inventory parses in 1.4 ms
# instead of 15 ms, and every flow run reads it several times.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_inventory_yaml(path: Path) -> Any:
    """The inventory file parsed as YAML; OSError and yaml.YAMLError as they come."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_YAML_LOADER)


def load_inventory(path: Path) -> Inventory:
    """Read and validate the inventory; errors say which field is wrong and why."""
    try:
        raw = read_inventory_yaml(path)
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise InventoryError(f"{path}: expected a mapping at the top level")
    try:
        return Inventory.model_validate(raw)
    except ValidationError as exc:
        problems = field_problems(exc)
        raise InventoryError(f"{path}: {problems}") from None


def schedule_timezone_problems(prefect_yaml: Mapping[str, Any], timezone: str) -> list[str]:
    """The schedules of a prefect.yaml whose timezone is not `timezone`: the project has one
    timezone setting, the inventory's, and prefect.yaml's schedules must name it too; so must
    a scheduled deployment's description (Prefect's deployments list shows a schedule's time
    without its zone, so the description says it)."""
    problems = []
    for deployment in prefect_yaml.get("deployments") or []:
        name = deployment.get("name")
        schedules = deployment.get("schedules") or []
        for schedule in schedules:
            zone = schedule.get("timezone")
            if zone != timezone:
                problems.append(
                    f"prefect.yaml: deployment {name!r} schedules in "
                    f"{zone or 'UTC (no timezone)'}, the inventory's timezone is {timezone}"
                )
        if schedules and timezone not in str(deployment.get("description") or ""):
            problems.append(
                f"prefect.yaml: deployment {name!r}: its description does not say when it "
                f"runs in {timezone}"
            )
    return problems
