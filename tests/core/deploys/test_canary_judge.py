"""The canary judge (hotdash_ops.deploys.canary_judge): the U test against worked examples,
and the verdicts per metric and overall."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from hotdash_ops.deploys.canary_judge import (
    EffectSize,
    JudgeRules,
    judge,
    judge_metric,
    u_test_greater,
)

RULES = JudgeRules()


def test_the_u_test_agrees_with_the_textbook_example() -> None:
    # Rosie Shier, "Statistics: 2.3 The Mann-Whitney U Test" (Mathematics Learning Support
    # Centre, 2004), the example scipy's documentation follows: ages at diagnosis, males
    # 19 22 16 29 24 and females 20 11 17 12. Shier reports U_M = 17, U_F = 3 and a
    # two-sided exact p = 0.11 (= 14/126); the exact null distribution is symmetric, so the
    # one-sided p of "males older" is half of it: P(U >= 17) = 7/126 = 0.0556.
    males, females = [19, 22, 16, 29, 24], [20, 11, 17, 12]
    test = u_test_greater(males, females)
    assert test.u == 17
    assert test.method == "exact"
    assert test.p_value == pytest.approx(7 / 126)
    # U of the other sample is n1 * n2 - U = 3, and "females older" is not supported at all.
    other = u_test_greater(females, males)
    assert other.u == 3
    # P(U_F >= 3) = 1 - P(U_F <= 2): U_F = 0, 1, 2 in 1, 1 and 2 of the 126 orderings.
    assert other.p_value == pytest.approx(1 - 4 / 126)


def test_ties_are_corrected_as_the_normal_approximation_prescribes() -> None:
    # /health failures are 0/1: all ties. 25 canary probes with 5 failures against 25 baseline
    # probes with none. By hand (Mann & Whitney's normal approximation with the tie
    # correction, e.g. Conover, Practical Nonparametric Statistics, 3rd ed., 5.1):
    # U = 5*25 + 0.5*20*25 = 375, mean n1*n2/2 = 312.5,
    # var = n1*n2/12 * ((N+1) - sum(t^3 - t)/(N(N-1))) with ties t = 5 and 45, N = 50,
    # z = (U - mean - 0.5)/sqrt(var) (continuity correction), p = P(Z > z).
    canary, baseline = [1.0] * 5 + [0.0] * 20, [0.0] * 25
    n1 = n2 = 25
    n = n1 + n2
    ties = (5**3 - 5) + (45**3 - 45)
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    z = (375 - n1 * n2 / 2 - 0.5) / math.sqrt(var)
    expected = 0.5 * math.erfc(z / math.sqrt(2))
    test = u_test_greater(canary, baseline)
    assert test.method == "asymptotic"
    assert test.u == 375
    assert test.p_value == pytest.approx(expected, rel=1e-9)
    assert test.p_value == pytest.approx(0.0103, abs=5e-4)  # without the correction: 0.11


def _around(center: float, spread: float, n: int = 40, shift: int = 0) -> list[float]:
    """n (a multiple of 5) deterministic values spread evenly around `center`, +-`spread`."""
    return [center + spread * (((i + shift) % 5) - 2) / 2 for i in range(n)]


def test_a_canary_worse_on_one_metric_fails_on_that_metric_only() -> None:
    samples = {
        "error_rate": (_around(0.05, 0.005), _around(0.004, 0.0004, 80)),
        "p95_ms": (_around(610, 30), _around(610, 30, 80, shift=3)),
        "health_failures": ([0.0] * 40, [0.0] * 80),
    }
    result = judge(samples, RULES)
    assert result.verdict == "fail"
    by = {m.metric: m for m in result.metrics}
    assert by["error_rate"].verdict == "fail"
    assert by["error_rate"].ratio == pytest.approx(12.5)
    assert by["error_rate"].reason.startswith("significantly higher (p=")
    assert by["p95_ms"].verdict == "pass"
    assert by["health_failures"].verdict == "pass"
    assert by["health_failures"].reason == "identical samples"
    assert result.reason.startswith("canary FAIL: 5xx ratio: significantly higher")
    rows = result.rows()
    assert [r["metric"] for r in rows] == ["5xx ratio", "p95 latency", "/health failures"]
    assert rows[0]["verdict"] == "FAIL" and rows[0]["ratio"] == "x12.50"
    assert rows[0]["canary"] == "5.00 % (40 samples)"
    assert "| 5xx ratio | FAIL |" in result.table()


def test_slightly_worse_is_significant_but_inside_the_effect_size_so_it_passes() -> None:
    # 5 % slower with little noise: the test sees it (p tiny), the effect size (x1.2) does not.
    verdict = judge_metric("p95_ms", _around(640, 10), _around(610, 10, 80), RULES)
    assert verdict.verdict == "pass"
    assert verdict.p_value is not None and verdict.p_value < 1e-6
    assert verdict.reason.startswith("higher (p=")
    assert "within the effect size (x1.05 and +30 ms; fails at x1.2 and +50 ms)" in verdict.reason
    # The same difference with a stricter effect size fails.
    strict = RULES.model_copy(
        update={"effects": {"p95_ms": EffectSize(effect_size=1.03, min_difference=20)}}
    )
    assert judge_metric("p95_ms", _around(640, 10), _around(610, 10, 80), strict).verdict == "fail"


def test_a_large_ratio_of_tiny_numbers_is_not_a_failure() -> None:
    # 0.2 % against 0.1 %: twice as many 5xx, but only 0.1 percentage point more.
    verdict = judge_metric("error_rate", _around(0.002, 0.0001), _around(0.001, 0.0001), RULES)
    assert verdict.verdict == "pass"
    assert verdict.ratio == pytest.approx(2.0)


def test_errors_from_a_clean_baseline_fail_with_no_ratio() -> None:
    verdict = judge_metric("error_rate", _around(0.02, 0.005), [0.0] * 40, RULES)
    assert verdict.verdict == "fail"
    assert verdict.ratio is None
    assert "by from zero" in verdict.reason


def test_too_few_samples_is_inconclusive_and_decides_the_overall_verdict() -> None:
    nan = float("nan")
    few = [0.004, nan, nan, 0.005, nan] * 8  # 16 samples with traffic of 40
    result = judge(
        {
            "error_rate": (few, _around(0.004, 0.0004)),
            "p95_ms": (_around(600, 20), _around(600, 20)),
        },
        RULES,
    )
    assert result.verdict == "inconclusive"
    er = result.metrics[0]
    assert er.verdict == "inconclusive" and er.canary_n == 16
    assert er.reason == "too little data: 16 canary and 40 baseline samples (need 20 each)"
    assert result.rows()[0]["p"] == "-"
    # ...but a failing metric still fails the canary.
    worse = judge(
        {
            "error_rate": (few, _around(0.004, 0.0004)),
            "p95_ms": (_around(2000, 20), _around(600, 20)),
        },
        RULES,
    )
    assert worse.verdict == "fail"


def test_rules_refuse_effect_sizes_below_one_and_unknown_metrics() -> None:
    with pytest.raises(ValidationError, match=r"effects\.p95_ms\.effect_size"):
        JudgeRules.model_validate(
            {"effects": {"p95_ms": {"effect_size": 0.9, "min_difference": 0}}}
        )
    with pytest.raises(ValidationError, match=r"effects\.cpu"):
        JudgeRules.model_validate({"effects": {"cpu": {"effect_size": 1.1, "min_difference": 0}}})
    with pytest.raises(ValidationError, match="min_samples"):
        JudgeRules.model_validate({"min_samples": 1})
    with pytest.raises(ValueError, match="samples: no metric to judge"):
        judge({}, RULES)
