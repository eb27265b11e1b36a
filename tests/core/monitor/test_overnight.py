"""The morning check's night: its window, error review caps, peaks against thresholds, the
alert history it reads, and the report (hotdash_ops.monitor.overnight, alert_history,
health_report)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hotdash_ops.inventory import AppSpec
from hotdash_ops.models import LogEntry
from hotdash_ops.monitor.alert_history import AlertChange, AlertHistory, Change
from hotdash_ops.monitor.alert_rules import RuleName, Severity, collect_figures, evaluate_app
from hotdash_ops.monitor.health_report import HealthReport, render_markdown
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.monitor.overnight import (
    ErrorReview,
    NightReview,
    night_window,
    peak_checks,
    step_seconds,
)
from hotdash_ops.monitor.probe import ProbeResult

LA = ZoneInfo("America/Los_Angeles")
WEB = AppSpec(name="web-app", role="web", thresholds={})


def test_night_is_18_00_yesterday_local_time_to_now() -> None:
    now = datetime(2025, 10, 14, 16, 0, tzinfo=UTC)  # 09:00 PDT
    start, end = night_window(now, LA)
    assert start == datetime(2025, 10, 14, 1, 0, tzinfo=UTC)  # 18:00 PDT on the 13th
    assert end == now
    assert night_window(now, LA, time(22, 30))[0] == datetime(2025, 10, 14, 5, 30, tzinfo=UTC)
    # Across the change to winter time the night is an hour longer, still from 18:00 local.
    after_dst = datetime(2025, 11, 2, 17, 0, tzinfo=UTC)  # 09:00 PST on Nov 2
    start, _ = night_window(after_dst, LA)
    assert start.astimezone(LA).hour == 18 and (after_dst - start) == timedelta(hours=16)
    assert step_seconds(start, after_dst) == 115  # 16 h in about 500 samples
    assert step_seconds(now - timedelta(minutes=5), now) == 60


def entry(minute: int, message: str, level: str = "info") -> LogEntry:
    return LogEntry(
        timestamp=datetime(2025, 10, 14, 2, minute, tzinfo=UTC), message=message, level=level
    )


def test_error_review_counts_all_shows_the_last_and_says_each_cap() -> None:
    entries = [entry(i, f"line {i}", "error" if i % 2 else "info") for i in range(20)]
    review = ErrorReview.of(entries, pages=1, complete=True, cap=3)
    assert review.error_count == 10 and review.read == 20
    assert [e.message for e in review.lines] == ["line 15", "line 17", "line 19"]
    assert review.describe(50) == (
        "10 error line(s) in 20 log lines (1 page(s)), the last 3 shown (cap 3)"
    )
    cut = ErrorReview.of(entries, pages=50, complete=False, cap=50)
    assert cut.describe(50).endswith(
        "READ STOPPED at the cap of 50 pages: the rest of the night was not read"
    )


def test_peaks_against_thresholds() -> None:
    metrics = AppMetrics(app="web-app", peaks={"cpu_pct": 93.5, "mem_pct": 40, "error_rate": 0.2})
    checks = {c.figure: c.over for c in peak_checks(WEB, metrics)}
    assert checks == {"cpu_pct": True, "mem_pct": False, "error_rate": True}
    night = NightReview(start=datetime.now(UTC), end=datetime.now(UTC), peaks={"web-app": metrics},
                        max_pages=50)  # fmt: skip
    assert night.over_thresholds([WEB]) == [
        "web-app: cpu_pct peaked at 93.5 > 80",
        "web-app: error_rate peaked at 0.2 > 0.05",
    ]


def test_alert_history_reads_a_window_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "alert-history.jsonl")
    t0 = datetime(2025, 10, 14, 2, 0, tzinfo=UTC)

    def change(minutes: int, kind: Change) -> AlertChange:
        return AlertChange(at=t0 + timedelta(minutes=minutes), app="web-app", rule=RuleName.CPU,
                           change=kind, condition="failing", severity=Severity.WARNING,
                           detail="cpu: 93 % > 80 %")  # fmt: skip

    history.append([change(0, Change.FIRED), change(30, Change.RESOLVED)])
    with history.path.open("a") as fh:
        fh.write("{not json\n")
    history.append([change(600, Change.FIRED)])
    read = history.between(t0 - timedelta(minutes=1), t0 + timedelta(hours=1))
    assert [c.change for c in read.changes] == ["fired", "resolved"]
    assert read.unreadable == 1
    assert oct(history.path.stat().st_mode & 0o777) == "0o600"


def test_report_leads_with_the_verdict_and_covers_the_night() -> None:
    spec = WEB
    down = ProbeResult(url="u", expected_status=200, error="ConnectError")
    e = evaluate_app(spec, collect_figures(spec, machines=[], health=down, metrics=None))
    start = datetime(2025, 10, 14, 1, 0, tzinfo=UTC)
    end = datetime(2025, 10, 14, 16, 0, tzinfo=UTC)
    fired = AlertChange(at=start + timedelta(hours=3), app="web-app", rule=RuleName.HEALTH,
                        change=Change.FIRED, condition="failing", severity=Severity.CRITICAL,
                        detail="health: /health did not answer")  # fmt: skip
    night = NightReview(
        start=start,
        end=end,
        peaks={"web-app": AppMetrics(app="web-app", peaks={"cpu_pct": 91.0})},
        alerts=[fired],
        errors={
            "web-app": ErrorReview.of([entry(1, "boom", "error")], pages=1, complete=True, cap=50)
        },  # fmt: skip
        max_pages=50,
    )
    report = HealthReport(checked_at=end, specs=[spec], evaluations=[e], dependencies=[],
                          night=night, tz=LA)  # fmt: skip
    text = render_markdown(report)
    # The verdict in one line, then a short table of what is wrong, then every app's figures.
    first, rest = text.split("## Every app now")
    assert first.startswith("# Morning health check: FAILING\n\n**FAILING: 4 problem(s): ")
    assert "Checked 2025-10-14 09:00 PDT (times in America/Los_Angeles)." in first
    assert "| app | verdict | what is wrong |" in first
    assert "| web-app | **FAILING** | health: /health did not answer (ConnectError) |" in first
    assert "| web-app | **FAILING** | no answer (ConnectError) |" in rest
    assert "10-13 19:01:00 PDT  boom" in text  # error lines in the inventory's timezone
    assert "## Overnight peaks (2025-10-13 18:00 PDT to 2025-10-14 09:00 PDT)" in text
    assert "| web-app | 91.0 % | no data | no data | no data | cpu_pct > 80 |" in text
    assert "| 2025-10-13 21:00 PDT | web-app | health (critical) | fired |" in text
    assert "- **web-app**: 1 error line(s) in 1 log lines (1 page(s))" in text
    assert "web-app: health: /health did not answer (ConnectError)" in report.summary()
