"""An app's configuration as Fly keeps it with each release (fly.toml, as `fly config show`
prints it in JSON), and the one change the runbook makes to it: Fly Proxy's auto-stop,
auto-start and min running machines on the app's services.

Why a release and not the Machines API: with no fly.toml at hand, `fly deploy` reads the
config of the current release and rebuilds every machine's `services` from it
(superfly/flyctl@ad0172fa internal/appconfig/remote.go `FromRemoteApp`,
internal/appconfig/machines.go `updateMachineConfig` sets `Services` to nil and derives them
again). A setting written only into the machines' configs is undone by the next deploy,
rollback included. So the change is a release carrying the changed config, deployed with the
image that runs now: `fly deploy -c <config> --image <running image>`, rolled out by flyctl
one machine at a time, each waited for (see `tasks.app_config`).

A deploy built from the HotDash repository carries the repository's fly.toml instead
(flyctl reads fly.toml in the working directory before any remote config: internal/command/
command.go `LoadAppConfigIfPresent`). Those three settings belong to the runbook's flows, so
the deploy keeps the running release's values over the file's (`keep_service_settings`) and
says which differed.

Keys are flyctl's (internal/appconfig/service.go): `[http_service]` and each `[[services]]`
carry `auto_stop_machines` ("off" | "stop" | "suspend"; booleans accepted),
`auto_start_machines` and `min_machines_running`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

AUTOSTOP_VALUES = ("off", "stop", "suspend")


class ServiceSettings(BaseModel):
    """Fly Proxy's settings of one service; None leaves a setting as it is."""

    autostop: str | None = None
    autostart: bool | None = None
    min_machines_running: int | None = None

    def text(self) -> str:
        return (
            f"autostop={self.autostop or 'off'}, autostart={self.autostart}, "
            f"min_machines_running={self.min_machines_running or 0}"
        )


def _autostop(value: Any) -> str:
    if value is True:
        return "stop"
    if value is False or value is None:
        return "off"
    return str(value)


def _named_services(config: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each service with a name saying which one it is: `[http_service]`, or `[[services]]`
    by internal port and process groups."""
    http = config.get("http_service")
    if isinstance(http, dict):
        yield "[http_service]", http
    for service in config.get("services") or []:
        if isinstance(service, dict):
            groups = ",".join(service.get("processes") or ["app"])
            yield f"[[services]] port {service.get('internal_port')} ({groups})", service


def _services(config: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for _, service in _named_services(config):
        yield service


def service_settings_of(config: Mapping[str, Any]) -> list[ServiceSettings]:
    """The settings of every service of the app config (`[http_service]` first)."""
    return [
        ServiceSettings(
            autostop=_autostop(s.get("auto_stop_machines")),
            autostart=bool(s.get("auto_start_machines", True)),
            min_machines_running=int(s.get("min_machines_running") or 0),
        )
        for s in _services(config)
    ]


def with_service_settings(config: Mapping[str, Any], want: ServiceSettings) -> dict[str, Any]:
    """A copy of `config` with `want`'s given settings on every service, nothing else
    changed. ValueError when the app has no service (Fly Proxy acts only through them)."""
    if want.autostop is not None and want.autostop not in AUTOSTOP_VALUES:
        raise ValueError(f"autostop: must be one of {', '.join(AUTOSTOP_VALUES)}")
    changed = copy.deepcopy(dict(config))
    services = list(_services(changed))
    if not services:
        raise ValueError(
            f"{config.get('app', 'the app')}: its config has no [http_service] or [[services]]; "
            "auto-stop and min running act through Fly Proxy services"
        )
    for service in services:
        if want.autostop is not None:
            service["auto_stop_machines"] = want.autostop
        if want.autostart is not None:
            service["auto_start_machines"] = want.autostart
        if want.min_machines_running is not None:
            service["min_machines_running"] = want.min_machines_running
    return changed


def settings_match(config: Mapping[str, Any], want: ServiceSettings) -> bool:
    """Every service already has each setting `want` gives."""
    current = service_settings_of(config)
    return bool(current) and all(
        all(
            getattr(want, key) is None or getattr(have, key) == getattr(want, key)
            for key in ("autostop", "autostart", "min_machines_running")
        )
        for have in current
    )


PROXY_KEYS = ("auto_stop_machines", "auto_start_machines", "min_machines_running")


def _normal(key: str, value: Any) -> Any:
    if key == "auto_stop_machines":
        return _autostop(value)
    if key == "auto_start_machines":
        return True if value is None else bool(value)
    return int(value or 0)


def keep_service_settings(
    local: Mapping[str, Any], current: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """`local` (a repository's fly.toml) with the running release's (`current`) auto-stop,
    auto-start and min running on every service both have, and what differed, e.g.
    `[http_service] min_machines_running: fly.toml 0, kept 1`. Services only one side has
    keep their own settings."""
    running = dict(_named_services(current))
    merged = copy.deepcopy(dict(local))
    differences = []
    for name, service in _named_services(merged):
        keep = running.get(name)
        if keep is None:
            continue
        for key in PROXY_KEYS:
            mine, theirs = _normal(key, service.get(key)), _normal(key, keep.get(key))
            if mine != theirs:
                differences.append(f"{name} {key}: fly.toml {mine!r}, kept {theirs!r}")
                service[key] = theirs
    return merged, differences
