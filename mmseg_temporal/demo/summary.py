"""Latency statistics and the demo's printed table."""
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

__all__ = ['latency_stats', 'stage_stats', 'format_summary',
           'finite_or_none']

STAGES = ('read', 'prep', 'model', 'post', 'total')


def finite_or_none(x) -> Optional[float]:
    """``float(x)`` when finite, else ``None`` (JSON-friendly)."""
    return float(x) if x is not None and np.isfinite(x) else None


def stage_stats(ms: Sequence[float]) -> Dict[str, Union[float, int, None]]:
    """``mean_ms``, ``median_ms`` (p50), ``p99_ms`` and ``frames`` of
    per-frame milliseconds."""
    arr = np.asarray(ms, np.float64)
    if arr.size == 0:
        return dict(mean_ms=None, median_ms=None, p99_ms=None, frames=0)
    return dict(mean_ms=float(arr.mean()), median_ms=float(np.median(arr)),
                p99_ms=float(np.percentile(arr, 99)), frames=int(arr.size))


def latency_stats(timings: Sequence[Union[float, Mapping[str, float]]]
                  ) -> Dict:
    """Per-frame latency statistics.

    Args:
        timings: per frame, either seconds (one stage) or a
            :class:`FramePrediction` ``timing`` dict (milliseconds per
            stage).

    Returns:
        For seconds: :func:`stage_stats` of them. For dicts: one
        :func:`stage_stats` per stage present (``read``, ``prep``,
        ``model``, ``post``, ``total``).
    """
    if not timings or not isinstance(timings[0], Mapping):
        return stage_stats([1e3 * float(s) for s in timings])
    return {k: stage_stats([t[k] for t in timings]) for k in STAGES
            if k in timings[0]}


def format_summary(summary: Dict) -> str:
    """The per-model table of :func:`run_video_demo`'s summary."""
    rows = [('model', 'backend', 'frames', 'mean ms', 'p50 ms', 'p99 ms',
             'model fps', 'mTC %', 'mean pair TC %')]

    def f(x):
        return 'n/a' if x is None else f'{x:.2f}'

    for name, m in summary['models'].items():
        lat = m['latency']
        rows.append((name, m.get('backend', ''), str(lat['frames']),
                     f(lat['mean_ms']), f(lat['median_ms']), f(lat['p99_ms']),
                     f(m.get('model_fps')), f(m['mTC']),
                     f(m['mean_pair_TC'])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(c.ljust(w) if i < 2 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines)
