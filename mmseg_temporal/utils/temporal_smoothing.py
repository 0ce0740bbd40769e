"""Exponential moving average of logits over time, the smoothing MMSeg users
hand-roll against flicker (mmsegmentation issues #3435, #2819): the
smoothed logits ``s_t = alpha * s_{t-1} + (1 - alpha) * z_t`` (``s_0 =
z_0``), the label ``argmax s_t``. ``alpha = 0`` is no smoothing; it trades
flicker for lag on moving objects.

One home for the formula: ``VideoInferencer(smooth=alpha)`` (streaming) and
``EMASmoothedSegmentor`` (the stock test loop) both use :class:`EMASmoother`.
"""
from typing import Iterable, Optional, Union

import numpy as np
import torch

__all__ = ['EMASmoother', 'ema_smooth_logits']

Array = Union[np.ndarray, torch.Tensor]


class EMASmoother:
    """Exponential moving average of logits over time (see the module
    docstring): ``s_t = alpha * s_{t-1} + (1 - alpha) * z_t``.

    Args:
        alpha: weight of the past, in ``[0, 1)``; 0 returns ``z_t``.
    """

    def __init__(self, alpha: float) -> None:
        alpha = float(alpha)
        if not 0. <= alpha < 1.:
            raise ValueError(f'smoothing alpha must be in [0, 1), got {alpha}')
        self.alpha = alpha
        self.state: Optional[Array] = None

    def reset(self) -> None:
        """Forget the past (a new video)."""
        self.state = None

    def __call__(self, logits: Array) -> Array:
        """The smoothed logits of the next frame (same type and shape)."""
        if self.state is not None and self.state.shape != logits.shape:
            raise ValueError(f'logits of shape {tuple(logits.shape)} after '
                             f'{tuple(self.state.shape)}: call reset() '
                             'between videos')
        if self.state is None or self.alpha == 0.:
            self.state = logits
        else:
            self.state = self.alpha * self.state + (1. - self.alpha) * logits
        return self.state


def ema_smooth_logits(logits: Union[Array, Iterable[Array]],
                      alpha: float) -> Array:
    """EMA-smoothed logits of one video (a pure function over
    :class:`EMASmoother`).

    Args:
        logits: ``(T, K, H, W)`` (any trailing shape) array or tensor, or a
            sequence of ``T`` per-frame ``(K, H, W)`` ones, in time order.
        alpha: weight of the past, in ``[0, 1)``.

    Returns:
        ``(T, ...)`` smoothed logits, a tensor for tensor input, else a
        float NumPy array. ``argmax`` over axis 1 gives the labels.
    """
    smoother = EMASmoother(alpha)
    frames = list(logits)
    if not frames:
        raise ValueError('ema_smooth_logits needs at least one frame')
    if isinstance(frames[0], torch.Tensor):
        return torch.stack([smoother(z.float()).clone() for z in frames])
    return np.stack([np.array(smoother(np.asarray(z, np.float64)))
                     for z in frames])
