"""Drawing of predictions and temporal-consistency curves.

Just above ``utils`` in the package's layering: imports only
:mod:`mmseg_temporal.utils`, NumPy, OpenCV and (lazily, inside
:func:`plot_tc_curve`) Matplotlib; never models, datasets, evaluation or
anything above them. Per-frame drawing (overlays, legend, frame index) is OpenCV/NumPy
only, so it costs well under a millisecond a frame; Matplotlib draws only the
one TC curve per run.
"""
from .overlay import (
                      draw_frame_index,
                      draw_name,
                      legend_strip,
                      overlay_prediction,
                      side_by_side,
                      upscale_to,
)
from .palette import default_palette, palette_from_meta
from .scatter import plot_scatter
from .tc_curve import plot_tc_curve
from .video_writer import DEFAULT_CODECS, VideoWriterThread, open_video_writer

__all__ = [
    'default_palette', 'palette_from_meta', 'overlay_prediction',
    'side_by_side', 'legend_strip', 'draw_frame_index', 'draw_name',
    'upscale_to',
    'plot_tc_curve', 'plot_scatter', 'open_video_writer', 'VideoWriterThread',
    'DEFAULT_CODECS'
]
