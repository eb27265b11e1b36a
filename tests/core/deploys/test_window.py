"""The production deploy window (hotdash_ops.deploys.window), with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hotdash_ops.deploys.window import DeployWindow, check_window, window_from_deploy_config

LA = "America/Los_Angeles"


def la(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(LA))


def test_weekdays_are_open_and_weekends_blocked_by_default() -> None:
    window = window_from_deploy_config({})
    assert window == DeployWindow(days=["mon", "tue", "wed", "thu", "fri"])
    friday = check_window(window, LA, now=la(2025, 10, 17, 23, 59))
    assert friday.allowed and friday.inside and not friday.overridden
    saturday = check_window(window, LA, now=la(2025, 10, 18, 10, 32))
    assert not saturday.allowed and not saturday.inside
    assert saturday.message == (
        "production deploys are allowed mon-fri 00:00-24:00 America/Los_Angeles; "
        "it is Sat 2025-10-18 10:32 PDT. The window opens Mon 2025-10-20 00:00 PDT. "
        "To deploy now anyway, give deploy_window_override_reason."
    )
    assert saturday.next_opening == la(2025, 10, 20, 0, 0)


def test_the_inventory_timezone_decides_the_day() -> None:
    # Saturday 02:00 UTC is still Friday evening in Los Angeles.
    now = datetime(2025, 10, 18, 2, 0, tzinfo=UTC)
    assert check_window(DeployWindow(), LA, now=now).allowed
    assert not check_window(DeployWindow(), "UTC", now=now).allowed


def test_an_override_needs_a_reason_and_is_recorded() -> None:
    saturday = la(2025, 10, 18, 10, 0)
    check = check_window(
        DeployWindow(), LA, now=saturday, override_reason="  security fix, cannot wait  "
    )
    assert check.allowed and check.overridden and not check.inside
    assert check.override_reason == "security fix, cannot wait"
    assert check.message.endswith("overridden: security fix, cannot wait")
    assert not check_window(DeployWindow(), LA, now=saturday, override_reason="   ").allowed
    with pytest.raises(ValueError, match="deploy_window_override_reason: say why"):
        check_window(DeployWindow(), LA, now=saturday, override_reason="hotfix")
    # It lands in the audit log and notifications: one line, no terminal escapes.
    for forged in ("hotfix for the outage\x1b[2J\x08", "hotfix for the outage\nAPPROVED BY CTO"):
        with pytest.raises(ValueError, match="deploy_window_override_reason: must be one line"):
            check_window(DeployWindow(), LA, now=saturday, override_reason=forged)
    # Inside the window an override changes nothing.
    monday = check_window(DeployWindow(), LA, now=la(2025, 10, 20, 9), override_reason="x" * 12)
    assert monday.inside and not monday.overridden


def test_hours_of_the_day() -> None:
    window = window_from_deploy_config({"window": {"start": "09:00", "end": "17:00"}})
    assert not check_window(window, LA, now=la(2025, 10, 14, 8, 59)).allowed
    assert check_window(window, LA, now=la(2025, 10, 14, 9, 0)).allowed
    assert check_window(window, LA, now=la(2025, 10, 14, 16, 59)).allowed
    late = check_window(window, LA, now=la(2025, 10, 14, 17, 0))
    assert not late.allowed and late.next_opening == la(2025, 10, 15, 9, 0)
    friday_evening = check_window(window, LA, now=la(2025, 10, 17, 18, 0))
    assert friday_evening.next_opening == la(2025, 10, 20, 9, 0)


def test_an_overnight_window_belongs_to_the_day_it_opens() -> None:
    window = window_from_deploy_config(
        {"window": {"days": ["mon"], "start": "22:00", "end": "06:00"}}
    )
    assert window.overnight
    assert check_window(window, LA, now=la(2025, 10, 20, 23, 0)).allowed  # Mon 23:00
    assert check_window(window, LA, now=la(2025, 10, 21, 5, 59)).allowed  # Tue 05:59
    assert not check_window(window, LA, now=la(2025, 10, 21, 6, 0)).allowed
    assert not check_window(window, LA, now=la(2025, 10, 20, 5, 0)).allowed  # Mon early: Sun's
    assert not check_window(window, LA, now=la(2025, 10, 21, 23, 0)).allowed  # Tue 23:00


def test_bad_window_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"deploy\.window\.days\.0: Input should be 'mon'"):
        window_from_deploy_config({"window": {"days": ["monday"]}})
    with pytest.raises(ValueError, match=r"deploy\.window\.end: .*'25:00' is not a time HH:MM"):
        window_from_deploy_config({"window": {"end": "25:00"}})
    with pytest.raises(ValueError, match=r"deploy\.window\.days: .*at least one day"):
        window_from_deploy_config({"window": {"days": []}})
    with pytest.raises(ValueError, match=r"deploy\.window\.hours: Extra inputs"):
        window_from_deploy_config({"window": {"hours": "9-5"}})
    assert (
        DeployWindow(days=["sat", "mon", "tue", "sun"])
        .describe("UTC")
        .startswith("mon-tue,sat-sun 00:00-24:00")
    )
