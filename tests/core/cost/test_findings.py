"""Unused resources, recommendations (hotdash_ops.cost.findings), and what the snapshots say
about them later (hotdash_ops.cost.snapshots)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotdash_ops.audit import AuditRecord
from hotdash_ops.cost import estimate as cost_estimate
from hotdash_ops.cost import snapshots as cost_snapshots
from hotdash_ops.cost.findings import ReviewRules, WeekUsage, assess, smaller_size, week_usage
from hotdash_ops.cost.snapshots import CostSnapshot
from hotdash_ops.cost.volumes import check_extend, check_request, confirmation_text, volume_rows
from hotdash_ops.models import Machine, PromResult, Volume
from tests.core.cost.test_estimate import PRICES, machine, volume

NOW = datetime(2026, 3, 20, 17, 0, tzinfo=UTC)


def served(mid: str, state: str = "started", autostop: str = "off", **kw: Any) -> Machine:
    """A machine behind one service with the given autostop."""
    base = machine(mid, state, **kw).model_dump(mode="json", exclude_none=True)
    base["config"]["services"] = [{"internal_port": 8080, "autostop": autostop, "autostart": True}]
    return Machine.model_validate(base)


def kinds(items: list[Any]) -> list[tuple[str, str, str]]:
    return [(i.kind, i.app, i.target) for i in items]


def test_unattached_volumes_long_stopped_machines_and_empty_apps() -> None:
    old_stop = int((NOW - timedelta(days=10)).timestamp() * 1000)
    new_stop = int((NOW - timedelta(days=2)).timestamp() * 1000)
    machines = {
        "web": [
            machine("m1"),
            machine("m2", "stopped", events=[{"type": "exit", "status": "stopped", "timestamp": old_stop}]),
            machine("m3", "stopped", events=[{"type": "exit", "status": "stopped", "timestamp": new_stop}]),
        ],
        "empty": [],
        "leftover": [machine("x1", "destroyed")],
    }  # fmt: skip
    volumes = {
        "web": [volume("vol_used", 3, "m1"), volume("vol_free", 5), volume("vol_gone", 5, state="pending_destroy")],
        "leftover": [volume("vol_orphan", 2)],
    }  # fmt: skip
    findings, recs = assess(machines, volumes, ["web", "empty", "leftover"], [], PRICES, now=NOW)
    assert kinds(findings) == [
        ("unattached-volume", "web", "vol_free"),
        ("unattached-volume", "leftover", "vol_orphan"),
        ("stopped-machine", "web", "m2"),
        ("no-machines", "empty", "empty"),
        ("no-machines", "leftover", "leftover"),
    ]
    by = {(f.kind, f.target): f for f in findings}
    assert by[("unattached-volume", "vol_free")].monthly_cost == pytest.approx(0.75)
    assert by[("stopped-machine", "m2")].monthly_cost == pytest.approx(0.15)
    assert "stopped for 10.0 days" in by[("stopped-machine", "m2")].detail
    assert by[("no-machines", "leftover")].monthly_cost == pytest.approx(0.3)
    assert "keeps volumes" in by[("no-machines", "leftover")].detail
    assert kinds(recs) == [
        ("delete-volume", "web", "vol_free"),
        ("delete-volume", "leftover", "vol_orphan"),
        ("destroy-machine", "web", "m2"),
    ]
    assert recs[0].flow == "manage-volumes" and recs[0].saving == pytest.approx(0.75)
    assert recs[0].parameters == {"action": "delete-unused", "app": "web", "dry_run": False}
    assert recs[2].flow is None and "fly machine destroy m2 -a web" in recs[2].action
    # Two more days, and m3 crosses a 7-day limit only when the limit is lower.
    findings, _ = assess(
        machines, volumes, ["web"], [], PRICES, now=NOW, rules=ReviewRules(stopped_days=1)
    )
    assert ("stopped-machine", "web", "m3") in kinds(findings)


def test_background_services_without_auto_stop() -> None:
    machines = {
        "worker": [served("w1", autostop="off", memory_mb=1024)],
        "mcp": [served("c1", autostop="stop")],
        "web": [served("s1", autostop="off")],
        "cron": [machine("k1")],  # no services: the proxy cannot stop it, nothing to recommend
    }
    findings, recs = assess(
        machines, {}, list(machines), ["worker", "mcp", "cron"], PRICES, now=NOW,
        rules=ReviewRules(idle_share=0.5),
    )  # fmt: skip
    assert kinds(findings) == [("no-autostop", "worker", "worker")]
    assert findings[0].monthly_cost == pytest.approx(1.94 + 3.75)
    [rec] = recs
    assert (rec.kind, rec.flow, rec.parameters["apps"]) == (
        "enable-auto-stop",
        "enable-auto-stop",
        ["worker"],
    )
    assert rec.saving == pytest.approx((1.94 + 3.75 - 0.15) * 0.5)


def test_scale_down_only_when_cpu_and_memory_stayed_low() -> None:
    machines = {
        "idle": [machine("a1", cpus=4, memory_mb=2048), machine("a2", cpus=4, memory_mb=2048),
                 machine("a3", "stopped", cpus=4, memory_mb=2048)],
        "busy_cpu": [machine("b1", cpus=2, memory_mb=1024)],
        "no_data": [machine("c1", cpus=2, memory_mb=1024)],
        "mixed": [machine("d1", cpus=2, memory_mb=1024), machine("d2", cpus=4, memory_mb=1024)],
        "tiny": [machine("e1")],
    }  # fmt: skip
    usage = {
        "idle": WeekUsage(app="idle", cpu_peak=12, mem_peak=35),
        "busy_cpu": WeekUsage(app="busy_cpu", cpu_peak=55, mem_peak=10),
        "no_data": WeekUsage(app="no_data"),
        "mixed": WeekUsage(app="mixed", cpu_peak=5, mem_peak=5),
        "tiny": WeekUsage(app="tiny", cpu_peak=5, mem_peak=5),
    }
    _, recs = assess(machines, {}, list(machines), [], PRICES, now=NOW, usage=usage)
    [rec] = [r for r in recs if r.kind == "scale-down"]
    assert rec.app == "idle" and rec.flow == "scale-app"
    assert rec.parameters == {"app": "idle", "vm_size": "shared-cpu-2x", "memory_mb": 1024}
    # two started machines: (7.78 + 1024 MB extra) -> (3.89 + 512 MB extra); the stopped one
    # pays its rootfs either way
    assert rec.saving == pytest.approx(2 * ((7.78 + 5.0) - (3.89 + 2.5)))
    assert "week peak CPU 12 %, memory 35 %" in rec.action


@pytest.mark.parametrize(
    ("guest", "expected"),
    [
        (("shared", 4, 2048), ("shared-cpu-2x", 1024)),
        (("shared", 2, 512), ("shared-cpu-1x", 256)),
        (("shared", 1, 1024), ("shared-cpu-1x", 512)),
        (("shared", 1, 256), None),
        (("shared", 6, 1536), ("shared-cpu-4x", 1024)),  # half is 768, below 4x's minimum
        (("shared", 2, 4096), ("shared-cpu-1x", 2048)),
        (("performance", 2, 8192), ("performance-1x", 4096)),
        (("performance", 1, 2048), None),
        (("performance", 1, 8192), ("performance-1x", 4096)),
    ],
)
def test_one_step_smaller(guest: tuple[str, int, int], expected: tuple[str, int] | None) -> None:
    assert smaller_size(*guest) == expected


def test_week_usage_takes_mean_and_peak_of_finite_samples() -> None:
    cpu = PromResult.parse(
        {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"app": "a"}, "values": [[1, "10"], [2, "30"], [3, "NaN"]]},
            {"metric": {"app": "other"}, "values": [[1, "90"]]},
        ]}}
    )  # fmt: skip
    usage = week_usage(cpu, None, ["a", "b"])
    assert (usage["a"].cpu_mean, usage["a"].cpu_peak) == (20.0, 30.0)
    assert usage["a"].mem_peak is None and usage["b"].cpu_peak is None
    assert "other" not in usage


# -- snapshots ---------------------------------------------------------------------------


def snap(
    when: datetime, totals: dict[str, float | None], recs: list[Any] | None = None
) -> CostSnapshot:
    apps = [
        cost_estimate.AppCost(app=a, total=t or 0.0, error=None if t is not None else "unreadable")
        for a, t in totals.items()
    ]
    est = cost_estimate.CostEstimate(apps=apps, total=sum(t or 0.0 for t in totals.values()))
    return CostSnapshot(taken_at=when, org="personal", estimate=est, recommendations=recs or [])


def test_baseline_is_last_weeks_complete_snapshot() -> None:
    week_ago = snap(NOW - timedelta(days=7), {"a": 1.0})
    two_weeks = snap(NOW - timedelta(days=14), {"a": 1.0})
    today = snap(NOW - timedelta(hours=2), {"a": 1.0})
    broken = snap(NOW - timedelta(days=6, hours=1), {"a": None})
    assert cost_snapshots.baseline([two_weeks, week_ago, broken, today], NOW) is week_ago
    assert cost_snapshots.baseline([today], NOW) is today  # nothing a week old: the newest earlier
    assert cost_snapshots.baseline([broken], NOW) is None
    assert cost_snapshots.baseline([snap(NOW + timedelta(days=1), {"a": 1.0})], NOW) is None


def test_week_over_week_per_app_new_and_gone() -> None:
    before = snap(NOW - timedelta(days=7), {"a": 10.0, "b": 4.0, "gone": 2.0, "zero": 0.0})
    now = cost_estimate.estimate(
        {"a": [machine("m1")] * 3, "b": [machine("m2")], "new": [machine("m3")], "zero": []},
        {}, ["a", "b", "new", "zero"], PRICES,
    )  # fmt: skip
    change = cost_snapshots.week_over_week(now, before)
    by = {c.app: c for c in change.apps}
    assert by["a"].change == pytest.approx(3 * 1.94 - 10.0)
    assert by["a"].change_pct == pytest.approx(100 * (3 * 1.94 - 10.0) / 10.0)
    assert (by["new"].status, by["new"].previous, by["new"].change_pct) == ("new", 0.0, None)
    assert (by["gone"].status, by["gone"].current, by["gone"].change) == ("gone", 0.0, -2.0)
    assert by["zero"].change == 0.0 and by["zero"].change_pct is None
    assert change.total_change == pytest.approx(now.total - 16.0)
    assert change.baseline_at == before.taken_at
    first = cost_snapshots.week_over_week(now, None)
    assert first.baseline_at is None and all(c.change is None for c in first.apps)


def test_snapshots_round_trip_and_unreadable_files_are_reported(tmp_path: Path) -> None:
    folder = cost_snapshots.snapshot_dir(tmp_path)
    b = snap(NOW, {"a": 2.0})
    a = snap(NOW - timedelta(days=7), {"a": 1.0})
    cost_snapshots.save_snapshot(folder, b)
    cost_snapshots.save_snapshot(folder, a)
    (folder / "cost-broken.json").write_text("{not json")
    loaded = cost_snapshots.load_snapshots(folder)
    assert [s.taken_at for s in loaded.snapshots] == [a.taken_at, b.taken_at]
    assert loaded.snapshots[1] == b
    assert loaded.unreadable == ["cost-broken.json: ValidationError"]
    assert cost_snapshots.load_snapshots(tmp_path / "none").snapshots == []


def test_months_are_taken_in_the_inventory_time_zone() -> None:
    tz = "America/Los_Angeles"
    start, end = cost_snapshots.month_bounds("2026-03", tz)
    assert start.isoformat() == "2026-03-01T00:00:00-08:00"
    assert end.isoformat() == "2026-04-01T00:00:00-07:00"
    # 1 April 05:00 UTC is still 31 March in Los Angeles
    late = snap(datetime(2026, 4, 1, 5, 0, tzinfo=UTC), {"a": 1.0})
    assert cost_snapshots.in_month([late], "2026-03", tz) == [late]
    assert cost_snapshots.previous_month(datetime(2026, 4, 1, 16, 0, tzinfo=UTC), tz) == "2026-03"
    assert cost_snapshots.previous_month(datetime(2026, 1, 1, 17, 0, tzinfo=UTC), tz) == "2025-12"
    with pytest.raises(ValueError, match="month: '2026-13' is not a month"):
        cost_snapshots.month_bounds("2026-13", tz)


def test_month_trend_has_a_column_per_review_and_a_total() -> None:
    snaps = [
        snap(datetime(2026, 3, 6, 17, tzinfo=UTC), {"a": 1.0, "b": 2.0}),
        snap(datetime(2026, 3, 13, 17, tzinfo=UTC), {"a": 1.5, "b": None}),
    ]
    trend = cost_snapshots.month_trend(snaps, "America/Los_Angeles")
    assert list(trend.columns) == ["2026-03-06", "2026-03-13"]
    assert trend.loc["a"].tolist() == [1.0, 1.5]
    assert trend.loc["TOTAL", "2026-03-06"] == 3.0
    assert trend.isna().loc["b", "2026-03-13"] and trend.isna().loc["TOTAL", "2026-03-13"]


def audit(action: str, target: str, ts: datetime, **detail: Any) -> AuditRecord:
    return AuditRecord(
        seq=1, ts=ts.isoformat(), actor="Dana", action=action, target=target, detail=detail,
        prev_hash="0",
    )  # fmt: skip


def test_recommendations_taken_resolved_or_left() -> None:
    _, recs = assess(
        {"web": [machine("m1")], "worker": [served("w1")], "db": [machine("d1")]},
        {"web": [volume("vol_free", 5), volume("vol_other", 1)]},
        ["web", "worker", "db"], ["worker"], PRICES, now=NOW,
    )  # fmt: skip
    by = {r.target: r for r in recs}
    first = snap(
        NOW - timedelta(days=14), {"web": 1.0}, [by["vol_free"], by["worker"], by["vol_other"]]
    )
    latest = snap(NOW, {"web": 1.0}, [by["vol_other"]])
    records = [
        audit("volume.delete", "web", NOW - timedelta(days=20), volume_id="vol_free"),  # before
        audit(
            "volume.delete", "web", NOW - timedelta(days=10), volume_id="vol_free", outcome="failed"
        ),
        audit("volume.delete", "web", NOW - timedelta(days=9), volume_id="vol_free", outcome="ok"),
    ]
    outcomes = {
        o.recommendation.target: o
        for o in cost_snapshots.recommendation_outcomes(
            [first], latest, records, "America/Los_Angeles"
        )
    }
    assert outcomes["vol_free"].outcome == "taken"
    assert outcomes["vol_free"].evidence.startswith("volume.delete by Dana at ")
    # In the inventory's timezone, named: NOW - 9 days is 2026-03-11 17:00 UTC, 10:00 PDT.
    assert outcomes["vol_free"].evidence.endswith("2026-03-11 10:00 PDT")
    assert outcomes["worker"].outcome == "resolved"
    assert outcomes["vol_other"].outcome == "left"


# -- volumes -----------------------------------------------------------------------------


def test_volume_rows_unused_and_confirmation() -> None:
    vols: dict[str, list[Volume]] = {
        "web": [volume("vol_used", 3, "m1"), volume("vol_free", 5), volume("vol_gone", 9, state="pending_destroy")]
    }  # fmt: skip
    rows = volume_rows(vols, PRICES)
    assert [(r.id, r.unused, r.monthly) for r in rows] == [
        ("vol_used", False, pytest.approx(0.45)),
        ("vol_free", True, pytest.approx(0.75)),
        ("vol_gone", False, 0.0),
    ]
    text = confirmation_text([r for r in rows if r.unused])
    assert "| web | `vol_free` | vol_free | 5 GB | ord | $0.75 |" in text
    assert "vol_used" not in text and "All of them: $0.75 per month" in text
    assert "none is chosen until you switch it on" in text and "snapshotted first" in text


def test_extend_only_grows() -> None:
    vol = volume("vol_abcd", 10, "m1")
    check_extend(vol, 11)
    for size in (10, 9):
        with pytest.raises(
            ValueError,
            match=rf"size_gb: {size} GB is not bigger than volume vol_abcd's current 10 GB",
        ):
            check_extend(vol, size)
    with pytest.raises(ValueError, match="volume_id: vol_abcd is being destroyed"):
        check_extend(volume("vol_abcd", 10, state="pending_destroy"), 20)


@pytest.mark.parametrize(
    ("action", "kw", "message"),
    [
        (
            "extend",
            {"app": "a", "volume_id": None, "size_gb": 5},
            "volume_id: required for action extend",
        ),
        (
            "extend",
            {"app": None, "volume_id": "vol_abcd", "size_gb": 5},
            "app: required for action extend",
        ),
        (
            "extend",
            {"app": "a", "volume_id": "vol_abcd", "size_gb": 900},
            "size_gb: must be between 1 and 500",
        ),
        (
            "list",
            {"app": None, "volume_id": "vol_abcd", "size_gb": None},
            "volume_id: only used by action extend",
        ),
        (
            "shrink",
            {"app": None, "volume_id": None, "size_gb": None},
            "action: must be list, extend or delete-unused",
        ),
    ],
)
def test_volume_requests_name_the_field(action: str, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_request(action, **kw)
