"""When production may be deployed (hotdash_ops.deploys.window), with an injected clock:
critical deploys in the off-hours, freezes for everyone, no window otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hotdash_ops.deploys.window import check_window, parse_span, windows_from_deploy_config

LA = "America/Los_Angeles"
DEFAULT = windows_from_deploy_config({})


def la(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(LA))


# 2025-10-13 is a Monday; 2025-10-18/19 the weekend.
@pytest.mark.parametrize(
    ("now", "off_hours"),
    [
        (la(2025, 10, 14, 10, 0), False),  # Tue office hours
        (la(2025, 10, 14, 19, 59), False),
        (la(2025, 10, 14, 20, 0), True),  # Tue evening
        (la(2025, 10, 15, 5, 59), True),  # Wed early morning (Tue's night)
        (la(2025, 10, 15, 6, 0), False),
        (la(2025, 10, 17, 19, 0), False),  # Fri before 20:00
        (la(2025, 10, 17, 21, 0), True),  # Fri night: the weekend starts
        (la(2025, 10, 18, 12, 0), True),  # Saturday noon
        (la(2025, 10, 19, 23, 0), True),  # Sunday night
        (la(2025, 10, 20, 5, 59), True),  # Monday before 06:00
        (la(2025, 10, 20, 6, 0), False),
        (la(2025, 10, 13, 3, 0), True),  # Monday 03:00 (Sunday's night)
    ],
)
def test_the_default_off_hours_are_weeknights_and_the_whole_weekend(
    now: datetime, off_hours: bool
) -> None:
    critical = check_window(DEFAULT, LA, critical=True, now=now)
    assert (critical.allowed, critical.in_off_hours) == (off_hours, off_hours)
    # A normal deploy has no window at all.
    assert check_window(DEFAULT, LA, critical=False, now=now).allowed


def test_what_the_deployer_and_the_approvers_read() -> None:
    tuesday = la(2025, 10, 14, 10, 32)
    normal = check_window(DEFAULT, LA, critical=False, now=tuesday)
    assert normal.message == (
        "a normal deploy: no deploy window applies (only critical deploys wait for the "
        "off-hours); it is Tue 2025-10-14 10:32 PDT."
    )
    refused = check_window(DEFAULT, LA, critical=True, now=tuesday)
    assert refused.message == (
        "a critical deploy may go only in the off-hours window (mon-thu 20:00-06:00, "
        "fri 20:00-mon 06:00 America/Los_Angeles), which opens Tue 2025-10-14 20:00 PDT; "
        "it is Tue 2025-10-14 10:32 PDT. To deploy now anyway, give "
        "deploy_window_override_reason."
    )
    inside = check_window(DEFAULT, LA, critical=True, now=la(2025, 10, 18, 9, 0))
    assert inside.message.startswith("a critical deploy: inside the off-hours window (")


def test_a_freeze_stops_every_deploy_until_it_ends() -> None:
    windows = windows_from_deploy_config({"freeze": ["fri 15:00-mon 06:00"]})
    saturday = la(2025, 10, 18, 10, 0)
    frozen = check_window(windows, LA, critical=False, now=saturday)
    assert not frozen.allowed and frozen.in_freeze
    assert frozen.message.startswith(
        "production deploys are frozen (fri 15:00-mon 06:00 America/Los_Angeles) until "
        "Mon 2025-10-20 06:00 PDT; it is Sat 2025-10-18 10:00 PDT."
    )
    assert check_window(windows, LA, critical=False, now=la(2025, 10, 17, 14, 59)).allowed
    assert not check_window(windows, LA, critical=True, now=la(2025, 10, 17, 21, 0)).allowed
    monday = check_window(windows, LA, critical=False, now=la(2025, 10, 20, 6, 0))
    assert monday.allowed and "no freeze now (fri 15:00-mon 06:00)" in monday.message


def test_the_inventory_timezone_decides_the_day() -> None:
    # Saturday 02:00 UTC is still Friday 19:00 in Los Angeles: not yet off-hours there.
    now = datetime(2025, 10, 18, 2, 0, tzinfo=UTC)
    assert not check_window(DEFAULT, LA, critical=True, now=now).allowed
    assert check_window(DEFAULT, "UTC", critical=True, now=now).allowed


def test_wall_clock_times_hold_across_a_dst_change() -> None:
    # 2025-11-02 01:59 PDT -> 01:00 PST: Monday 06:00 is still 06:00 local.
    sunday_night = la(2025, 11, 2, 23, 0)
    assert check_window(DEFAULT, LA, critical=True, now=sunday_night).allowed
    assert not check_window(DEFAULT, LA, critical=True, now=la(2025, 11, 3, 6, 0)).allowed


def test_an_override_needs_a_reason_and_is_recorded() -> None:
    tuesday = la(2025, 10, 14, 10, 0)
    check = check_window(
        DEFAULT, LA, critical=True, now=tuesday, override_reason="  data fix, cannot wait  "
    )
    assert check.allowed and check.overridden and not check.in_off_hours
    assert check.override_reason == "data fix, cannot wait"
    assert check.message.endswith("overridden: data fix, cannot wait")
    assert not check_window(DEFAULT, LA, critical=True, now=tuesday, override_reason="  ").allowed
    with pytest.raises(ValueError, match="deploy_window_override_reason: say why"):
        check_window(DEFAULT, LA, critical=True, now=tuesday, override_reason="hotfix")
    # It lands in the audit log and notifications: one line, no terminal escapes.
    for forged in ("hotfix for the outage\x1b[2J\x08", "hotfix for the outage\nAPPROVED BY CTO"):
        with pytest.raises(ValueError, match="deploy_window_override_reason: must be one line"):
            check_window(DEFAULT, LA, critical=True, now=tuesday, override_reason=forged)
    # Where nothing stops the deploy, an override changes nothing.
    normal = check_window(DEFAULT, LA, critical=False, now=tuesday, override_reason="x" * 12)
    assert normal.allowed and not normal.overridden


def test_the_three_ways_to_write_a_span() -> None:
    [weekend] = parse_span("Fri 20:00-Mon 06:00")
    assert (weekend.text, weekend.day, weekend.start, weekend.minutes) == (
        "fri 20:00-mon 06:00", 4, 20 * 60, 58 * 60
    )  # fmt: skip
    nights = parse_span("mon-thu 20:00-06:00")
    assert [(s.day, s.minutes) for s in nights] == [(d, 10 * 60) for d in range(4)]
    assert [s.day for s in parse_span("sat-sun")] == [5, 6]
    assert [s.day for s in parse_span("fri-mon 09:00-17:00")] == [0, 4, 5, 6]  # wraps
    assert [s.day for s in parse_span("mon,wed 09:00-24:00")] == [0, 2]
    assert parse_span("sun 22:00-sun 22:00")[0].minutes == 7 * 24 * 60  # a whole week


def test_bad_window_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"deploy\.freeze\.0: 'friday 15:00-mon 06:00' is not"):
        windows_from_deploy_config({"freeze": ["friday 15:00-mon 06:00"]})
    with pytest.raises(ValueError, match=r"deploy\.off_hours\.1: 'sat 25:00-06:00' is not a"):
        windows_from_deploy_config({"off_hours": ["mon 20:00-06:00", "sat 25:00-06:00"]})
    with pytest.raises(ValueError, match=r"deploy\.off_hours: at least one span is needed"):
        windows_from_deploy_config({"off_hours": []})
    with pytest.raises(ValueError, match=r"deploy\.freeze: must be a list of spans"):
        windows_from_deploy_config({"freeze": {"fri": "15:00"}})
    with pytest.raises(ValueError, match=r"deploy\.window: no longer used; a normal deploy"):
        windows_from_deploy_config({"window": {"days": ["mon"]}})
    one = windows_from_deploy_config({"freeze": "fri 15:00-mon 06:00"})  # a single span
    assert [s.text for s in one.freeze] == ["fri 15:00-mon 06:00"]
