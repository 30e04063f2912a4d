"""Confidence bounds against published values.

Clopper–Pearson: R's binom.test (its help page's example 682 of 925, and 5 of 100) and the
closed form for no successes; Wilson and Clopper–Pearson: Newcombe (1998), "Two-sided
confidence intervals for the single proportion", Statistics in Medicine 17, table II.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.gate.stats import clopper_pearson_upper, regularized_beta, upper_bound, wilson_upper


@pytest.mark.parametrize(
    ("rows", "n", "expected"),
    [
        (682, 925, 0.7654066),  # binom.test(c(682, 243), p = 3/4): 0.7076683 0.7654066
        (5, 100, 0.1128349),  # binom.test(5, 100): 0.01643114 0.11283491
        (0, 10, 0.3084971),  # binom.test(0, 10): 0.0000000 0.3084971
    ],
)
def test_clopper_pearson_matches_r_binom_test(rows, n, expected):
    assert clopper_pearson_upper(rows, n, 0.95) == pytest.approx(expected, abs=5e-8)


@pytest.mark.parametrize(
    ("rows", "n", "wilson", "exact"),
    [
        (81, 263, 0.3662, 0.3676),
        (15, 148, 0.1605, 0.1617),
        (0, 20, 0.1611, 0.1684),
        (1, 29, 0.1718, 0.1776),
    ],
)
def test_bounds_match_newcombe_1998(rows, n, wilson, exact):
    assert round(wilson_upper(rows, n, 0.95), 4) == wilson
    assert round(clopper_pearson_upper(rows, n, 0.95), 4) == exact


def test_no_successes_in_a_large_sample_is_the_closed_form():
    # 1 - 0.025^(1/n): the "rule of three" region, where a careless bisection loses precision
    n = 1_000_000
    assert clopper_pearson_upper(0, n, 0.95) == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-12)
    assert clopper_pearson_upper(0, n, 0.95) == pytest.approx(3.689 / n, rel=1e-3)


def test_all_successes_and_edge_cases():
    assert clopper_pearson_upper(7, 7, 0.95) == 1.0
    assert upper_bound(0, 0, 0.95) == 1.0  # nothing compared: nothing is known
    with pytest.raises(ValueError, match="between 0 and n"):
        upper_bound(5, 4, 0.95)
    with pytest.raises(ValueError, match="unknown interval"):
        upper_bound(1, 4, 0.95, "wald")


def test_regularized_beta_known_values():
    assert regularized_beta(0.5, 2, 2) == pytest.approx(0.5, abs=1e-14)
    assert regularized_beta(0.3, 1, 1) == pytest.approx(0.3, abs=1e-14)
    # I_x(a, 1) = x^a
    assert regularized_beta(0.7, 5, 1) == pytest.approx(0.7**5, rel=1e-12)


@given(
    n=st.integers(1, 200_000),
    share=st.floats(0, 1),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_the_bound_is_the_binomial_tail(n, share, confidence):
    """At the Clopper–Pearson bound p, P(X <= rows | n, p) is (1 - confidence) / 2, and the bound
    is above the point estimate and widens with the confidence."""
    rows = min(n - 1, int(share * n))
    p = clopper_pearson_upper(rows, n, confidence)
    assert p > rows / n
    tail = 1 - regularized_beta(p, rows + 1, n - rows)
    assert math.isclose(tail, (1 - confidence) / 2, rel_tol=1e-6)
    assert clopper_pearson_upper(rows, n, min(0.999, confidence + 0.005)) > p
    assert wilson_upper(rows, n, confidence) > rows / n
