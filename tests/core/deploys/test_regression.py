"""The post-deploy watch's judgement (hotdash_ops.deploys.regression)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotdash_ops.deploys.regression import (
    Figures,
    WatchRules,
    assess,
    evaluate,
    rules_from_deploy_config,
    sample_count,
)

T0 = datetime(2025, 10, 14, 17, 0, tzinfo=UTC)
BASE = Figures(at=T0, error_rate=0.004, p95_ms=610, health_status=200)
RULES = WatchRules()


def sample(
    i: int = 1, error_rate: float | None = 0.004, p95: float | None = 610, health: int | None = 200
) -> Figures:
    return Figures(
        at=T0 + timedelta(seconds=30 * i), error_rate=error_rate, p95_ms=p95, health_status=health
    )


GOOD, BAD, UNKNOWN = sample(), sample(error_rate=0.3), sample(error_rate=None, p95=None)


def test_limits_against_the_baseline() -> None:
    # 5xx: max(0.4 % x 2, 0.4 % + 1 pp) = 1.4 %; p95: max(610 x 1.5, 610 + 250) = 915 ms.
    assert not assess(BASE, sample(error_rate=0.013), RULES).bad
    worse = assess(BASE, sample(error_rate=0.015), RULES)
    assert worse.bad and worse.reasons == ["5xx 1.5 % (baseline 0.4 %, limit 1.4 %)"]
    assert not assess(BASE, sample(p95=900), RULES).bad
    slow = assess(BASE, sample(p95=950), RULES)
    assert slow.reasons == ["p95 950 ms (baseline 610 ms, limit 915 ms)"]
    down = assess(BASE, sample(health=None), RULES)
    assert down.reasons == ["/health did not answer (no response) (expected 200)"]
    assert assess(BASE, sample(health=503), RULES).reasons == [
        "/health answered 503 (expected 200)"
    ]


def test_what_was_already_broken_or_has_no_data_is_not_judged() -> None:
    broken_before = BASE.model_copy(update={"health_status": 503})
    assert not assess(broken_before, sample(health=503), RULES).bad
    no_p95 = BASE.model_copy(update={"p95_ms": None})
    assert not assess(no_p95, sample(p95=99999), RULES).bad
    quiet = assess(broken_before, UNKNOWN.model_copy(update={"health_status": 503}), RULES)
    assert quiet.unknown and not quiet.bad
    # No 5xx data before the deploy: judged from zero (1 pp margin).
    no_er = BASE.model_copy(update={"error_rate": None})
    assert assess(no_er, sample(error_rate=0.02), RULES).bad


def test_one_bad_sample_is_not_a_regression_three_in_a_row_is() -> None:
    assert not evaluate(BASE, [GOOD, BAD, GOOD, BAD, BAD, GOOD], RULES).regressed
    out = evaluate(BASE, [GOOD, BAD, BAD, BAD, GOOD], RULES)
    assert out.regressed and out.streak == 3
    assert len(out.assessments) == 4  # judged up to the third bad sample
    assert out.reason == (
        "sustained regression: 3 bad samples in a row (latest: 5xx 30.0 % (baseline 0.4 %, "
        "limit 1.4 %); baseline 5xx 0.4 %, p95 610 ms, /health 200)"
    )


def test_unknown_samples_neither_count_nor_break_a_run() -> None:
    # /health failed already before the deploy, so only the metrics can be judged.
    base = BASE.model_copy(update={"health_status": 503})
    bad, unknown = (s.model_copy(update={"health_status": 503}) for s in (BAD, UNKNOWN))
    assert evaluate(base, [bad, unknown, bad, unknown, bad], RULES).regressed
    assert not evaluate(base, [bad, unknown, GOOD, bad], RULES).regressed
    quiet = evaluate(BASE, [GOOD, BAD], RULES)
    assert quiet.reason == "no sustained regression in 2 samples (1 bad, never 3 in a row)"


def test_rules_come_from_the_inventory() -> None:
    assert rules_from_deploy_config({}) == WatchRules()
    two = rules_from_deploy_config({"watch": {"sustained_samples": 2, "p95_factor": 2.0}})
    assert evaluate(BASE, [BAD, BAD], two).regressed
    with pytest.raises(ValueError, match=r"deploy\.watch\.sustained_samples: .*greater than or"):
        rules_from_deploy_config({"watch": {"sustained_samples": 1}})
    with pytest.raises(ValueError, match=r"deploy\.watch\.minutes: Extra inputs"):
        rules_from_deploy_config({"watch": {"minutes": 15}})


def test_sample_count() -> None:
    assert sample_count(15, 30) == 30
    assert sample_count(0.05, 1) == 3
    assert sample_count(1, 7) == 9
    assert sample_count(0, 30) == 0
    with pytest.raises(ValueError, match="watch_interval_seconds: must be positive"):
        sample_count(15, 0)
    with pytest.raises(ValueError, match="watch_minutes: must not be negative"):
        sample_count(-1, 30)
