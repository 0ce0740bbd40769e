"""Paired-difference statistics of the multi-seed studies.

A study trains, for every seed, a control and each arm from the same
starting checkpoint with the same data order; an arm's effect on a metric
is the per-seed difference ``arm - control``. This module turns those
differences into the figures the studies report: the mean, its 95 %
confidence interval from Student's t distribution with ``n - 1`` degrees of
freedom, and the number of seeds where the difference is positive. An
effect is claimed only when the interval excludes 0.
"""
import math
from typing import Dict, Optional, Sequence

__all__ = ['t_quantile', 'paired_difference', 'format_difference']


def _t_cdf(x: float, dof: int) -> float:
    """CDF of Student's t with ``dof`` degrees of freedom (regularised
    incomplete beta function, continued fraction; exact to ~1e-12)."""
    if x == 0:
        return 0.5
    z = dof / (dof + x * x)
    tail = 0.5 * _betainc(dof / 2.0, 0.5, z)
    return 1.0 - tail if x > 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) (Numerical Recipes' betacf)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return front * h / a


def t_quantile(p: float, dof: int) -> float:
    """The ``p`` quantile of Student's t with ``dof`` >= 1 degrees of
    freedom (bisection on the CDF; ``t_quantile(0.975, 4) = 2.776...``)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f't_quantile: p must lie in (0, 1), got {p}')
    if dof < 1:
        raise ValueError(f't_quantile: dof must be >= 1, got {dof}')
    if p < 0.5:
        return -t_quantile(1.0 - p, dof)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, dof) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, dof) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def paired_difference(arm: Sequence[float], control: Sequence[float],
                      level: float = 0.95) -> Dict:
    """Paired mean difference ``arm - control`` over seeds.

    Args:
        arm, control: one figure per seed, in the same seed order.
        level: confidence level of the interval.

    Returns:
        dict with ``n`` (seeds), ``mean``, ``sd`` (sample standard
        deviation of the differences, ``n - 1`` in the denominator),
        ``ci`` ``(low, high)`` (``mean -+ t_{(1+level)/2, n-1} sd /
        sqrt(n)``; NaN for ``n < 2``), ``positive`` (seeds with a
        difference > 0), ``diffs`` and ``effect``: ``True`` when the
        interval excludes 0.
    """
    if len(arm) != len(control):
        raise ValueError(f'paired_difference: {len(arm)} arm figures but '
                         f'{len(control)} control figures (one per seed each)')
    diffs = [float(a) - float(c) for a, c in zip(arm, control)]
    n = len(diffs)
    if n == 0:
        raise ValueError('paired_difference: no seeds')
    mean = sum(diffs) / n
    if n < 2:
        sd, ci = float('nan'), (float('nan'), float('nan'))
    else:
        sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
        half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
        ci = (mean - half, mean + half)
    effect = bool(n >= 2 and (ci[0] > 0 or ci[1] < 0))
    return dict(n=n, mean=mean, sd=sd, ci=ci,
                positive=sum(d > 0 for d in diffs), diffs=diffs,
                effect=effect)


def format_difference(d: Optional[Dict], digits: int = 2) -> str:
    """``+0.31 [-0.20, +0.82] 3/5`` (mean [95 % CI] positive/seeds), with
    ``*`` when the interval excludes 0; ``-`` for no data."""
    if not d:
        return '-'
    lo, hi = d['ci']
    ci = ('n/a' if math.isnan(lo) else
          f'{lo:+.{digits}f}, {hi:+.{digits}f}')
    star = ' *' if d['effect'] else ''
    return f'{d["mean"]:+.{digits}f} [{ci}] {d["positive"]}/{d["n"]}{star}'
