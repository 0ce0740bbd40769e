"""Exponential moving average of logits over time, the smoothing MMSeg users
hand-roll against flicker (mmsegmentation issues #3435, #2819): the
smoothed logits ``s_t = alpha * s_{t-1} + (1 - alpha) * z_t`` (``s_0 =
z_0``), the label ``argmax s_t``. ``alpha = 0`` is no smoothing; it trades
flicker for lag on moving objects.

One home for the formula: ``VideoInferencer(smooth=alpha)`` (streaming) and
``EMASmoothedSegmentor`` (the stock test loop) both use :class:`EMASmoother`,
one :func:`ema_step` a frame.

Motion compensation (``flow`` given to :func:`ema_step`) moves the past
onto the current frame before blending, so the average follows moving
objects instead of trailing them: ``s_t = alpha * W(s_{t-1}) + (1 - alpha)
* z_t`` with ``W(s)[p] = s[p + f[p]]`` (the project's one warp,
:func:`~mmseg_temporal.flow.ops.flow_warp`), where ``f`` is the flow
*from the current frame t to the previous frame t-1* (for each pixel of
frame t, where it was in frame t-1: a flow source called as
``source(path_t, path_t-1, img_t, img_t-1)``). Where that flow is not
valid (the source's mask: occluded, inconsistent) or points out of the
frame, the pixel has no past: ``s_t = z_t`` there, a per-pixel restart,
rather than blending in the logits of whatever was at that place before
(which would smear an occluder over what it uncovers).
"""
from typing import Iterable, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..flow.ops import flow_warp

__all__ = ['EMASmoother', 'ema_smooth_logits', 'ema_step', 'flow_at_logits']

Array = Union[np.ndarray, torch.Tensor]


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0. <= alpha < 1.:
        raise ValueError(f'smoothing alpha must be in [0, 1), got {alpha}')
    return alpha


def ema_step(state: Optional[Array], logits: Array, alpha: float,
             flow: Optional[Array] = None,
             valid: Optional[Array] = None) -> Array:
    """One step of the (motion-compensated) EMA, a pure function.

    Args:
        state: ``(K, H, W)`` smoothed logits of the previous frame, or
            ``None`` (the first frame: returns ``logits``).
        logits: ``(K, H, W)`` logits of the current frame.
        alpha: weight of the past, in ``[0, 1)``.
        flow: ``(2, H, W)`` flow from the current frame to the previous one
            (x then y, pixels); ``None``: plain EMA. An all-zero flow skips
            the warp (plain EMA, exactly).
        valid: ``(H, W)`` bool, the pixels of the current frame whose flow
            is right; ``None``: all. Invalid pixels, and pixels whose flow
            leaves the frame, take ``logits`` unblended.

    Returns:
        ``s_t`` of the type (array or tensor) and shape of ``logits``.
    """
    alpha = _check_alpha(alpha)
    if state is None or alpha == 0.:
        return logits
    if flow is None:
        return alpha * state + (1. - alpha) * logits
    is_array = not isinstance(logits, torch.Tensor)
    z, past = torch.as_tensor(logits), torch.as_tensor(state)
    flow = torch.as_tensor(flow, device=z.device)
    keep = torch.ones(z.shape[-2:], dtype=torch.bool, device=z.device) \
        if valid is None else torch.as_tensor(valid, device=z.device).bool()
    if keep.shape != z.shape[-2:]:
        raise ValueError(f'valid mask of shape {tuple(keep.shape)} for logits '
                         f'of shape {tuple(z.shape)}')
    if bool(flow.any()):
        past, inside = flow_warp(past[None], flow[None].to(past.dtype))
        past, keep = past[0], keep & inside[0, 0]
    out = torch.where(keep, alpha * past + (1. - alpha) * z, z)
    return out.numpy() if is_array else out


def flow_at_logits(flow: Array, valid: Optional[Array], size,
                   padding_size=(0, 0, 0, 0)):
    """A flow source's ``(2, h, w)`` flow and ``(h, w)`` mask (or ``None``)
    at a frame's file size, brought onto ``size`` logits whose
    ``padding_size`` (left, right, top, bottom) border is padding: resized
    (nearest, flow values scaled) to the unpadded part, the padding
    zero-flow and invalid. Returns ``(flow (2, H, W), valid (H, W))``
    tensors."""
    left, right, top, bottom = padding_size
    h, w = size[0] - top - bottom, size[1] - left - right
    flow = torch.as_tensor(flow, dtype=torch.float32)
    valid = (torch.ones(flow.shape[1:], dtype=torch.bool) if valid is None
             else torch.as_tensor(valid, dtype=torch.bool))
    if tuple(flow.shape[1:]) != (h, w):
        scale = torch.tensor([w / flow.shape[2], h / flow.shape[1]])
        flow = F.interpolate(flow[None], (h, w), mode='nearest-exact')[0] * \
            scale[:, None, None]
        valid = F.interpolate(valid[None, None].float(), (h, w),
                              mode='nearest-exact')[0, 0] > .5
    pad = (left, right, top, bottom)
    return F.pad(flow, pad), F.pad(valid, pad, value=False)


class EMASmoother:
    """Exponential moving average of logits over time (see the module
    docstring): ``s_t = alpha * s_{t-1} + (1 - alpha) * z_t``, or with the
    past warped by a flow (:func:`ema_step`).

    Args:
        alpha: weight of the past, in ``[0, 1)``; 0 returns ``z_t``.
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = _check_alpha(alpha)
        self.state: Optional[Array] = None

    def reset(self) -> None:
        """Forget the past (a new video)."""
        self.state = None

    def __call__(self, logits: Array, flow: Optional[Array] = None,
                 valid: Optional[Array] = None) -> Array:
        """The smoothed logits of the next frame (same type and shape);
        ``flow`` (current -> previous frame) and ``valid`` as in
        :func:`ema_step` (ignored on the first frame)."""
        if self.state is not None and self.state.shape != logits.shape:
            raise ValueError(f'logits of shape {tuple(logits.shape)} after '
                             f'{tuple(self.state.shape)}: call reset() '
                             'between videos')
        self.state = ema_step(self.state, logits, self.alpha, flow, valid)
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
