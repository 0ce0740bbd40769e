"""ForwardBackwardChecked: any flow source with the forward-backward
consistency mask (occlusions and flow errors left out)."""
from typing import Callable, Optional, Union

import numpy as np
import torch
from mmseg.registry import TASK_UTILS

from ..ops import forward_backward_valid
from .base import FlowResult, build_flow_source, needs_pixels

__all__ = ['ForwardBackwardChecked']


@TASK_UTILS.register_module()
class ForwardBackwardChecked:
    """Computes the flow of a pair both ways with an inner source and keeps
    the pixels whose round trip comes back (Sundaram et al. 2010; the mask of
    Lai et al., ECCV 2018, and of VSPW's TC):

    ``flow, valid = source(path_a, path_b, img_a, img_b)``: the inner
    source's flow ``a -> b`` and ``valid`` = the inner source's mask (where
    it gives one) AND :func:`~mmseg_temporal.flow.ops.forward_backward_valid`
    of the flows ``a -> b`` and ``b -> a``.

    Around a flow cache (``source=dict(type='PrecomputedFlow', ...)``) it
    reads both directions, so the cache must hold the reverse pairs too
    (``tools/precompute_flow.py`` adds them when the pipeline's flow source
    is forward-backward checked; ``on_missing='compute'`` fills them).

    Args:
        source: the inner flow source: a config (any that
            :func:`build_flow_source` takes, e.g. ``dict(type='DISFlow')``
            or ``dict(type='PrecomputedFlow', ...)``) or a callable.
        alpha: tolerance relative to the squared motion (0.01).
        beta: absolute tolerance in squared pixels (0.5).
    """

    def __init__(self, source: Union[dict, Callable], alpha: float = 0.01,
                 beta: float = 0.5) -> None:
        if alpha < 0 or beta < 0:
            raise ValueError('ForwardBackwardChecked: alpha and beta must be '
                             f'>= 0, got {alpha} and {beta}')
        self.source = build_flow_source(source)
        self.alpha = float(alpha)
        self.beta = float(beta)

    @property
    def needs_pixels(self) -> bool:
        """The inner source's."""
        return needs_pixels(self.source)

    def __call__(self, path_a: str, path_b: str,
                 img_a: Optional[np.ndarray] = None,
                 img_b: Optional[np.ndarray] = None) -> FlowResult:
        flow_ab, valid_ab = self.source(path_a, path_b, img_a, img_b)
        flow_ba, _ = self.source(path_b, path_a, img_b, img_a)
        consistent = forward_backward_valid(
            torch.from_numpy(np.ascontiguousarray(flow_ab))[None],
            torch.from_numpy(np.ascontiguousarray(flow_ba))[None],
            self.alpha, self.beta)[0, 0].numpy()
        if valid_ab is not None:
            consistent &= valid_ab
        return flow_ab, consistent

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(source={self.source!r}, '
                f'alpha={self.alpha}, beta={self.beta})')
