"""An app's config and its services' proxy settings (hotdash_ops.fly.app_config, pure)."""

from __future__ import annotations

import pytest

from hotdash_ops.fly.app_config import (
    ServiceSettings,
    keep_service_settings,
    service_settings_of,
    settings_match,
    with_service_settings,
)

CONFIG = {
    "app": "hotdash-agent-service",
    "primary_region": "ord",
    "http_service": {
        "internal_port": 8002,
        "auto_stop_machines": "off",
        "auto_start_machines": True,
        "min_machines_running": 1,
        "checks": [{"path": "/health", "grace_period": "5s"}],
    },
    "services": [{"internal_port": 9090, "auto_stop_machines": False, "ports": [{"port": 9090}]}],
    "mounts": [{"source": "data", "destination": "/data"}],
}


def test_every_service_gets_the_given_settings_and_nothing_else_changes() -> None:
    want = ServiceSettings(autostop="stop", autostart=True, min_machines_running=0)
    changed = with_service_settings(CONFIG, want)
    assert [s.text() for s in service_settings_of(changed)] == [
        "autostop=stop, autostart=True, min_machines_running=0"
    ] * 2
    assert changed["http_service"]["checks"] == CONFIG["http_service"]["checks"]
    assert changed["mounts"] == CONFIG["mounts"] and changed["services"][0]["ports"] == [
        {"port": 9090}
    ]
    assert CONFIG["http_service"]["auto_stop_machines"] == "off"
    assert settings_match(changed, want) and not settings_match(CONFIG, want)


def test_only_given_settings_are_written() -> None:
    changed = with_service_settings(CONFIG, ServiceSettings(min_machines_running=2))
    assert [s.autostop for s in service_settings_of(changed)] == ["off", "off"]  # False = off
    assert [s.min_machines_running for s in service_settings_of(changed)] == [2, 2]


def test_an_app_without_services_and_a_bad_value_are_refused() -> None:
    with pytest.raises(ValueError, match=r"hotdash-x: its config has no \[http_service\]"):
        with_service_settings({"app": "hotdash-x"}, ServiceSettings(autostop="stop"))
    with pytest.raises(ValueError, match="autostop: must be one of off, stop, suspend"):
        with_service_settings(CONFIG, ServiceSettings(autostop="sleep"))


def test_a_repository_fly_toml_keeps_the_running_releases_proxy_settings_and_says_which() -> None:
    # The repository's fly.toml: auto-stop off on [http_service], a TCP service, a service
    # the running release lacks (it keeps its own settings), and everything else its own.
    local = {
        "app": "hotdash-agent-service",
        "env": {"PORT": "8002"},
        "http_service": {"internal_port": 8002, "auto_stop_machines": False,
                         "min_machines_running": 0, "checks": [{"path": "/ready"}]},
        "services": [
            {"internal_port": 9090, "auto_stop_machines": "off", "ports": [{"port": 9090}]},
            {"internal_port": 7000, "processes": ["worker"], "auto_stop_machines": "off"},
        ],
    }  # fmt: skip
    running = with_service_settings(
        CONFIG, ServiceSettings(autostop="stop", autostart=True, min_machines_running=1)
    )

    merged, differences = keep_service_settings(local, running)

    assert differences == [
        "[http_service] auto_stop_machines: fly.toml 'off', kept 'stop'",
        "[http_service] min_machines_running: fly.toml 0, kept 1",
        "[[services]] port 9090 (app) auto_stop_machines: fly.toml 'off', kept 'stop'",
        "[[services]] port 9090 (app) min_machines_running: fly.toml 0, kept 1",
    ]
    assert (
        service_settings_of(merged)[:2]
        == [ServiceSettings(autostop="stop", autostart=True, min_machines_running=1)] * 2
    )
    assert merged["services"][1]["auto_stop_machines"] == "off"  # only the repository has it
    assert merged["http_service"]["checks"] == [{"path": "/ready"}]  # the file's own
    assert (
        merged["env"] == {"PORT": "8002"} and local["http_service"]["auto_stop_machines"] is False
    )
    assert keep_service_settings(merged, running) == (merged, [])  # nothing left to keep
