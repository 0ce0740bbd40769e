"""The one plotter of temporal consistency (TC) over time, used by the video
demo and by the TC metric (like the paper's Fig. 3).

Drawn on its own ``Figure`` with an Agg canvas: Matplotlib's global backend
and pyplot's figure list are left alone, so calling it inside a notebook,
a GUI or a training process changes nothing there.
"""
import io
from typing import Mapping, Optional

import numpy as np

from ..utils.atomic import atomic_write_bytes

__all__ = ['plot_tc_curve']

PAIR_XLABEL = 'frame index t (TC of frames t and t+1)'


def _legend_label(name: str, mean: Optional[float],
                  mean_label: str = 'mTC') -> str:
    if mean is None:
        return name
    return f'{name} ({mean_label} {mean:.1f}%)' if np.isfinite(mean) else \
        f'{name} ({mean_label} n/a)'


def plot_tc_curve(curves: Mapping[str, np.ndarray], out_file: str,
                  means: Optional[Mapping[str, float]] = None,
                  mean_label: str = 'mTC',
                  frame_indices: Optional[Mapping[str, np.ndarray]] = None,
                  overall_mtc: Optional[float] = None,
                  title: Optional[str] = None,
                  xlabel: str = PAIR_XLABEL,
                  max_legend: int = 10) -> str:
    """TC of each pair of neighbouring frames over time, one line per curve
    (a model in the demo, a sequence in the metric), as a PNG (atomic).

    Args:
        curves: per name, ``(P,)`` TC in percent of consecutive frame pairs;
            NaN (a pair with no class present) leaves a gap.
        out_file: PNG path (folders are created).
        means: per name, a mean TC (percent) shown in the legend.
        mean_label: what that mean is, in the legend (e.g. ``'mean of
            curve'`` when ``means`` are the curves' own means).
        frame_indices: per name, ``(P,)`` x positions: the index of the
            first frame t of each pair (t, t+1). Default ``0 .. P-1``.
        overall_mtc: drawn as a dashed horizontal line when finite.
        title, xlabel: figure title, x-axis label.
        max_legend: no legend when there are more curves than this.

    Returns:
        ``out_file``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, curve in curves.items():
        y = np.asarray(curve, np.float64)
        if not y.size:
            continue
        x = np.arange(y.size) if frame_indices is None else np.asarray(
            frame_indices[name])
        if x.shape != y.shape:
            raise ValueError(f'curve {name!r}: {y.size} values but '
                             f'{x.size} frame indices')
        ax.plot(x, y, marker='o' if y.size <= 30 else None, markersize=3,
                linewidth=1.5,
                label=_legend_label(name, (means or {}).get(name),
                                    mean_label))
    if overall_mtc is not None and np.isfinite(overall_mtc):
        ax.axhline(overall_mtc, color='k', linestyle='--', linewidth=1,
                   label=f'mTC {overall_mtc:.2f}')
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel('TC (%)')
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.set_title(title or 'Temporal consistency between neighbouring frames')
    if 0 < len(curves) <= max_legend:
        ax.legend(fontsize='small', loc='best')
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png')
    atomic_write_bytes(out_file, buf.getvalue())
    return out_file
