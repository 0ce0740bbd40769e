"""SyntheticExactFlow: the exact flow and visibility of the synthetic video,
read from its files."""
from typing import Optional

import numpy as np
from mmseg.registry import TASK_UTILS

from ..flow.sources.base import FlowResult
from .synthetic_format import (
    read_layers,
    read_velocities,
    synthetic_flow_between,
    synthetic_frame_files,
)

__all__ = ['SyntheticExactFlow']


@TASK_UTILS.register_module()
class SyntheticExactFlow:
    """Serves the exact flow and visibility between two frames of the
    synthetic video (``SyntheticVideoDataset``), read from their layer maps
    and their video's per-layer motion (:mod:`.synthetic_format`).

    ``flow, valid = source(path_a, path_b, img_a, img_b)``: ``(2, H, W)``
    float32 flow from frame a to frame b (x then y, pixels) and the ``(H, W)``
    bool mask of frame-a pixels visible in frame b (not occluded, not out of
    frame). With it, TC measures the predictions' flicker alone
    (ground-truth labels score 100), not the errors of a flow estimator, and
    the temporal loss is masked by exact visibility.

    Raises ``ValueError`` when the images are not at the video's native
    resolution (the exact flow is only known there) or the two frames come
    from different videos.
    """

    #: the flow is read from files; images only check the resolution
    needs_pixels = False

    def __call__(self, path_a: str, path_b: str,
                 img_a: Optional[np.ndarray] = None,
                 img_b: Optional[np.ndarray] = None) -> FlowResult:
        a, b = synthetic_frame_files(path_a), synthetic_frame_files(path_b)
        if a['motion'] != b['motion']:
            raise ValueError(f'{path_a} and {path_b} are frames of different '
                             'synthetic videos')
        layers_a, layers_b = read_layers(a['layers']), read_layers(b['layers'])
        if img_a is not None and img_a.shape[:2] != layers_a.shape:
            raise ValueError(
                f'SyntheticExactFlow: frame {path_a} is served at '
                f'{img_a.shape[1]}x{img_a.shape[0]} but the exact flow is '
                f'only known at its native {layers_a.shape[1]}x'
                f'{layers_a.shape[0]}')
        return synthetic_flow_between(layers_a, layers_b,
                                      read_velocities(a['motion']),
                                      b['frame'] - a['frame'])

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'
