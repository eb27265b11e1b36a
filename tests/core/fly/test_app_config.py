"""An app's config and its services' proxy settings (hotdash_ops.fly.app_config, pure)."""

from __future__ import annotations

import pytest

from hotdash_ops.fly.app_config import (
    ServiceSettings,
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
