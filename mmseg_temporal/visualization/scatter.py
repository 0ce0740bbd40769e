"""The one scatter plot of two per-model figures (e.g. motion consistency
against real-video TC over the models of a study), drawn like
:func:`~mmseg_temporal.visualization.plot_tc_curve` on its own Agg figure."""
import io
from typing import Mapping, Optional, Sequence, Tuple

import numpy as np

from ..utils.atomic import atomic_write_bytes

__all__ = ['plot_scatter']


def plot_scatter(groups: Mapping[str, Sequence[Tuple[float, float]]], out_file: str,
                 xlabel: str, ylabel: str, title: Optional[str] = None,
                 diagonal: bool = True) -> str:
    """One marker per point, one colour per group (an arm of a study), the
    Pearson correlation over all points in the title, and the ``y = x``
    line when ``diagonal``; saved as a PNG (atomic). Returns ``out_file``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = np.array([p for pts in groups.values() for p in pts], dtype=float)
    if points.ndim != 2 or len(points) < 2:
        raise ValueError(f'plot_scatter needs at least two (x, y) points, got {len(points)}')
    fig = Figure(figsize=(5.5, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, pts in groups.items():
        xy = np.asarray(pts, dtype=float).reshape(-1, 2)
        ax.scatter(xy[:, 0], xy[:, 1], label=name, s=36)
    if diagonal:
        lo, hi = points.min(), points.max()
        ax.plot([lo, hi], [lo, hi], color='grey', linestyle='--', linewidth=1, label='y = x')
    r = float(np.corrcoef(points[:, 0], points[:, 1])[0, 1])
    ax.set_title((title + '\n' if title else '') + f'Pearson r = {r:.2f} over {len(points)} '
                 'models', fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png')
    atomic_write_bytes(out_file, buf.getvalue())
    return out_file
