"""One frame of the video demo's overlay video: every model's prediction
over the frame, side by side (:class:`DemoCanvas`)."""
from typing import Optional, Sequence

import numpy as np

from ..inference.inferencer import VideoInferencer
from ..visualization import (
    draw_frame_index,
    draw_name,
    legend_strip,
    overlay_prediction,
    side_by_side,
    upscale_to,
)

__all__ = ['DemoCanvas']


class DemoCanvas:
    """Composes one video frame: every model's overlay, enlarged to at least
    ``min_height`` rows (integer factor), named, side by side, the frame
    index top right and the class legend (of the first model) below."""

    def __init__(self, inferencers: Sequence[VideoInferencer],
                 alpha: float = 0.5, min_height: int = 360,
                 total: Optional[int] = None) -> None:
        self.inferencers, self.alpha = list(inferencers), alpha
        self.min_height, self.total = min_height, total
        first = self.inferencers[0]
        same = all(i.num_classes == first.num_classes
                   for i in self.inferencers)
        self.palettes = [first.palette if same else i.palette
                         for i in self.inferencers]
        self.class_names, self.legend_palette = first.class_names, \
            first.palette
        self._legend = None

    def __call__(self, frame: np.ndarray, labels: Sequence[np.ndarray],
                 index: int) -> np.ndarray:
        panels = []
        for inf, label, pal in zip(self.inferencers, labels, self.palettes):
            panel = upscale_to(overlay_prediction(frame, label, pal,
                                                  self.alpha), self.min_height)
            panels.append(draw_name(panel, inf.name))
        canvas = draw_frame_index(side_by_side(panels, gap=4), index,
                                  self.total)
        if self._legend is None or self._legend.shape[1] != canvas.shape[1]:
            self._legend = legend_strip(self.class_names, self.legend_palette,
                                        canvas.shape[1], canvas.shape[0])
        canvas = np.concatenate([canvas, self._legend], axis=0)
        h, w = canvas.shape[:2]  # even sizes: every codec takes them
        return np.pad(canvas, ((0, h % 2), (0, w % 2), (0, 0)), mode='edge')
