"""Colour coding of optical flow (Middlebury colour wheel, Baker et al.).

Hue gives the direction, saturation the magnitude: zero flow is white,
flow pointing right is red, down yellow-orange, left cyan, up violet-blue.
"""
from typing import Optional, Union

import numpy as np
from torch import Tensor

__all__ = ['flow_to_color', 'make_color_wheel']

# Number of hues between primary/secondary colours (Middlebury).
_RY, _YG, _GC, _CB, _BM, _MR = 15, 6, 4, 11, 13, 6


def make_color_wheel() -> np.ndarray:
    """The 55 hues of the Middlebury colour wheel, ``(55, 3)`` RGB in
    [0, 255], starting at red and turning red -> yellow -> green -> cyan ->
    blue -> magenta -> red."""
    ramps = []
    # (ramp length, channel that is fixed at 255, channel that moves,
    #  whether the moving channel rises)
    for n, full, moving, rising in ((_RY, 0, 1, True), (_YG, 1, 0, False),
                                    (_GC, 1, 2, True), (_CB, 2, 1, False),
                                    (_BM, 2, 0, True), (_MR, 0, 2, False)):
        seg = np.zeros((n, 3))
        ramp = np.floor(255 * np.arange(n) / n)
        seg[:, full] = 255
        seg[:, moving] = ramp if rising else 255 - ramp
        ramps.append(seg)
    return np.concatenate(ramps, axis=0)


def flow_to_color(flow: Union[np.ndarray, Tensor],
                  max_flow: Optional[float] = None) -> np.ndarray:
    """Colour image of a flow field.

    Args:
        flow: ``(2, H, W)`` (the project's layout) or ``(H, W, 2)``
            (OpenCV's), channel 0 horizontal, in pixels; numpy or torch.
            Non-finite values are drawn black.
        max_flow: magnitude drawn fully saturated; larger ones are drawn
            darker. Default: the largest magnitude of ``flow``.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    if isinstance(flow, Tensor):
        flow = flow.detach().cpu().numpy()
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim == 3 and flow.shape[0] == 2:
        u, v = flow[0], flow[1]
    elif flow.ndim == 3 and flow.shape[2] == 2:
        u, v = flow[..., 0], flow[..., 1]
    else:
        raise ValueError('flow_to_color expects flow of shape (2, H, W) or '
                         f'(H, W, 2), got {flow.shape}')
    invalid = ~(np.isfinite(u) & np.isfinite(v))
    u = np.where(invalid, 0., u)
    v = np.where(invalid, 0., v)
    rad = np.sqrt(u**2 + v**2)
    if max_flow is None:
        max_flow = float(rad.max())
    if max_flow < 0:
        raise ValueError(f'flow_to_color: max_flow must be >= 0, got '
                         f'{max_flow}')
    scale = 1. / max(max_flow, np.finfo(np.float64).eps)
    u, v, rad = u * scale, v * scale, rad * scale

    wheel = make_color_wheel() / 255.
    ncols = wheel.shape[0]
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]; -1 and 1: pointing right
    pos = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(pos).astype(np.int64)
    k1 = (k0 + 1) % ncols
    frac = (pos - k0)[..., None]
    col = (1 - frac) * wheel[k0] + frac * wheel[k1]  # (H, W, 3)
    inside = (rad <= 1)[..., None]
    # Towards white at small magnitude; darker beyond max_flow.
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    img = np.floor(255 * col).astype(np.uint8)
    img[invalid] = 0
    return img
