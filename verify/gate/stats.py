"""Upper confidence bounds of a rate measured on a sample (Wilson score, Clopper–Pearson exact).

Both are the upper end of the two-sided interval at `confidence`, as R's `prop.test(x, n,
correct = FALSE)` (Wilson) and `binom.test(x, n)` (Clopper–Pearson) report them. Pure Python:
the beta quantile is found by bisection on the regularized incomplete beta function.
"""

from __future__ import annotations

import math
from statistics import NormalDist

INTERVALS = ("clopper-pearson", "wilson")


def upper_bound(rows: int, n: int, confidence: float, method: str = "clopper-pearson") -> float:
    """The upper end of the two-sided `confidence` interval of the rate rows/n."""
    if n <= 0:
        return 1.0
    if not 0 <= rows <= n:
        raise ValueError(f"rows ({rows}) must be between 0 and n ({n})")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (got {confidence})")
    if method == "wilson":
        return wilson_upper(rows, n, confidence)
    if method == "clopper-pearson":
        return clopper_pearson_upper(rows, n, confidence)
    raise ValueError(f"unknown interval {method!r}; choose from {', '.join(INTERVALS)}")


def wilson_upper(rows: int, n: int, confidence: float) -> float:
    """Wilson score interval, upper end."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = rows / n
    z2n = z * z / n
    centre = p + z2n / 2
    spread = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    return min(1.0, (centre + spread) / (1 + z2n))


def clopper_pearson_upper(rows: int, n: int, confidence: float) -> float:
    """Clopper–Pearson (exact) interval, upper end: the (1+c)/2 quantile of Beta(rows+1, n-rows)."""
    if rows == n:
        return 1.0
    tail = (1 - confidence) / 2
    if rows == 0:
        return -math.expm1(math.log(tail) / n)  # closed form: 1 - tail^(1/n)
    # P(X <= rows | p) = 1 - I_p(rows+1, n-rows) falls as p grows: find where it equals `tail`.
    a, b = rows + 1, n - rows
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 1 - regularized_beta(mid, a, b) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    return hi


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), by the continued fraction of Numerical Recipes (betacf), with its symmetry."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of I_x(a, b) by the modified Lentz method."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < eps:
            break
    return h
