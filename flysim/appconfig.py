"""An app's configuration (fly.toml, as the JSON ``fly config show`` prints) and the machine
services ``fly deploy`` derives from it.

Every release carries the app config it was deployed with (flyctl reads it back from the
current release when there is no local fly.toml: superfly/flyctl@ad0172fa
internal/appconfig/remote.go, ``FromRemoteApp`` -> ``getAppV2ConfigFromReleases``), and a
deploy rebuilds every machine's ``services`` from it (internal/appconfig/machines.go,
``updateMachineConfig``: ``mConfig.Services = nil`` then one service per ``AllServices()``),
keeping the rest of the machine's config. So a service setting changed only through the
Machines API is gone after the next ``fly deploy``.

The JSON keys are flyctl's (internal/appconfig/config.go and service.go json tags):
``http_service`` {``internal_port``, ``force_https``, ``auto_stop_machines``,
``auto_start_machines``, ``min_machines_running``, ``processes``, ``concurrency``,
``checks``}, ``services`` [...] with the same three settings, ``mounts`` [{``source``,
``destination``}]. Both the server (a scenario's releases) and ``flysim-fly`` (a deploy) use
this module.
"""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_GROUP = "app"


def _seconds(value: float) -> str:
    """A fly.Duration string (``"5s"``, ``"250ms"``)."""
    if value >= 1 and float(value).is_integer():
        return f"{int(value)}s"
    return f"{round(value * 1000)}ms"


def http_service(
    *,
    internal_port: int = 8080,
    autostop: str = "off",
    autostart: bool = True,
    min_machines_running: int = 0,
    check_seconds: float = 5.0,
) -> dict[str, Any]:
    """fly.toml's ``[http_service]`` with one HTTP check of ``/health``.

    ``check_seconds`` is the check's ``grace_period``: flysim reports the check only once a
    started machine has been up that long (flysim's timing, see flysim/README.md).
    """
    return {
        "internal_port": internal_port,
        "force_https": True,
        "auto_stop_machines": autostop,
        "auto_start_machines": autostart,
        "min_machines_running": min_machines_running,
        "processes": [DEFAULT_GROUP],
        "concurrency": {"type": "requests", "soft_limit": 200, "hard_limit": 250},
        "checks": [
            {
                "interval": "15s",
                "timeout": "2s",
                "grace_period": _seconds(check_seconds),
                "method": "GET",
                "path": "/health",
            }
        ],
    }


def app_config(
    app: str,
    region: str,
    *,
    service: dict[str, Any] | None,
    mounts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The app config of a release (``fly config show -a APP``)."""
    config: dict[str, Any] = {"app": app, "primary_region": region}
    if service is not None:
        config["http_service"] = service
    if mounts:
        config["mounts"] = [
            {"source": m.get("name", ""), "destination": m.get("path", "/data")} for m in mounts
        ]
    return config


def _autostop(value: Any) -> str:
    # fly.toml accepts booleans for auto_stop_machines (true = "stop"). hotdash_ops reads the
    # same rule on its side; flysim never imports the project's code (a shared mistake would
    # hide itself from the tests).
    if value is True:
        return "stop"
    if value is False or value is None:
        return "off"
    return str(value)


def _machine_check(check: dict[str, Any], port: int) -> dict[str, Any]:
    """``ServiceHTTPCheck.toMachineCheck`` (service.go)."""
    out: dict[str, Any] = {"type": "http", "port": port}
    for key in ("interval", "timeout", "grace_period", "method", "path", "protocol"):
        if key in check:
            out[key] = check[key]
    return out


def _machine_service(service: dict[str, Any], *, http: bool) -> dict[str, Any]:
    """``Service.toMachineService`` (service.go); ``[http_service]`` first becomes a Service
    with ports 80 (http, force_https) and 443 (tls, http) (``HTTPService.ToService``)."""
    port = int(service.get("internal_port") or 8080)
    if http:
        ports = [
            {"port": 80, "handlers": ["http"], "force_https": bool(service.get("force_https"))},
            {"port": 443, "handlers": ["tls", "http"]},
        ]
    else:
        ports = copy.deepcopy(service.get("ports") or [])
    out: dict[str, Any] = {
        "protocol": service.get("protocol", "tcp"),
        "internal_port": port,
        "autostop": _autostop(service.get("auto_stop_machines")),
        "autostart": service.get("auto_start_machines", True),
        "min_machines_running": int(service.get("min_machines_running") or 0),
        "ports": ports,
    }
    if service.get("concurrency"):
        out["concurrency"] = copy.deepcopy(service["concurrency"])
    checks = service.get("checks") if http else service.get("http_checks")
    out["checks"] = [_machine_check(c, port) for c in checks or []]
    return out


def machine_services(config: dict[str, Any], group: str) -> list[dict[str, Any]]:
    """The ``services`` a machine of process group ``group`` gets from the app config
    (``AllServices``: ``[http_service]`` then ``[[services]]``, each for its ``processes``)."""
    out = []
    candidates = [(config.get("http_service"), True)] + [
        (s, False) for s in config.get("services") or []
    ]
    for service, http in candidates:
        if not isinstance(service, dict):
            continue
        processes = service.get("processes") or [DEFAULT_GROUP]
        if group in processes:
            out.append(_machine_service(service, http=http))
    return out


def check_grace_seconds(service: dict[str, Any]) -> float:
    """The longest ``grace_period`` of a machine service's checks, in seconds."""
    longest = 0.0
    for check in service.get("checks") or []:
        longest = max(longest, parse_duration(str(check.get("grace_period") or "0s")))
    return longest


def parse_duration(text: str) -> float:
    """``"5s"``, ``"250ms"``, ``"1m30s"`` -> seconds (fly.Duration's Go syntax)."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    total, number = 0.0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if unit not in units or not number:
            raise ValueError(f"invalid duration {text!r}")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:  # a bare number is seconds
        total += float(number)
    return total
