"""Settings from the environment and the one HTTP error mapping."""

from __future__ import annotations

import httpx
import pytest

from hotdash_ops.errors import (
    FlyBadRequest,
    FlyctlError,
    FlyError,
    FlyUnavailable,
    raise_for_fly_status,
)
from hotdash_ops.models import Guest, Machine
from hotdash_ops.settings import Settings


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLY_API_TOKEN", " fm2_x ")
    monkeypatch.setenv("FLYCTL", "/usr/local/bin/flysim-fly")
    monkeypatch.setenv("FLY_APP_URL_TEMPLATE", "http://127.0.0.1:4280/_apps/{app}")
    s = Settings()
    assert s.token() == "fm2_x" and "fm2_x" not in repr(s)
    assert s.flyctl == "/usr/local/bin/flysim-fly"
    assert (
        s.app_url("hotdash-staging", "/health")
        == "http://127.0.0.1:4280/_apps/hotdash-staging/health"
    )
    assert s.app_url("a1") == "http://127.0.0.1:4280/_apps/a1/"
    monkeypatch.delenv("FLY_API_TOKEN")
    monkeypatch.delenv("FLY_APP_URL_TEMPLATE")
    assert Settings().token() is None
    assert Settings().app_url("hotdash-x", "api/health") == "https://hotdash-x.fly.dev/api/health"


def _response(status: int, **kw: object) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "https://x/v1/apps/a"), **kw)


def test_raise_for_fly_status() -> None:
    raise_for_fly_status(_response(200))
    with pytest.raises(FlyUnavailable, match="GET /v1/apps/a: upstream down") as exc:
        raise_for_fly_status(_response(502, text="upstream down"))
    assert exc.value.status == 502 and "HTTP 502" in str(exc.value)
    with pytest.raises(FlyBadRequest, match="bad config") as exc2:
        raise_for_fly_status(_response(422, json={"error": "bad config", "status": "unknown"}))
    assert isinstance(exc2.value, FlyError)


def test_flyctl_error_is_a_fly_error() -> None:
    err = FlyctlError("fly deploy failed", exit_code=1, stderr="Error: x", argv=["fly"])
    assert isinstance(err, FlyError) and "exit 1" in str(err) and "Error: x" in str(err)


def test_guest_keeps_unknown_keys_for_update() -> None:
    m = Machine.model_validate(
        {
            "id": "abc123def",
            "state": "started",
            "region": "iad",
            "config": {"image": "i", "guest": {"cpus": 1, "max_memory_mb": 2048}},
        }
    )
    assert m.config is not None
    assert m.config.to_api()["guest"]["max_memory_mb"] == 2048
    assert isinstance(m.config.guest, Guest)
