"""Flow operations: the one backward warp, the paper's occlusion mask and
the forward-backward consistency check.

This is the one warping implementation of the project: every loss, the
temporal-consistency metric, the flow sources and the data tests call
:func:`flow_warp`. Bottom layer: depends on torch only.

Conventions (shared by all flow code of the project):

* ``flow`` has shape ``(B, 2, H, W)``; channel 0 is the horizontal (x)
  displacement and channel 1 the vertical (y) displacement, in pixels.
* ``flow`` given for frame ``t`` points from each pixel ``p`` of frame ``t``
  to where that pixel went in frame ``t+k``: ``M_{t->t+k}``.
* Backward warping with that flow brings frame ``t+k`` to frame ``t``:
  ``out[p] = x[p + flow[p]]``.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['flow_warp', 'occlusion_mask', 'flow_to_grid',
           'forward_backward_valid']


def _check_shapes(x: Tensor, flow: Tensor) -> None:
    if x.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError('flow_warp expects x of shape (B, C, H, W) and flow '
                         f'of shape (B, 2, H, W); got x {tuple(x.shape)} and '
                         f'flow {tuple(flow.shape)}')
    if x.shape[0] != flow.shape[0] or x.shape[-2:] != flow.shape[-2:]:
        raise ValueError('flow_warp: x and flow must share batch size and '
                         f'spatial size; got x {tuple(x.shape)} and flow '
                         f'{tuple(flow.shape)}')


def flow_to_grid(flow: Tensor) -> Tuple[Tensor, Tensor]:
    """Absolute sampling positions ``p + flow[p]`` in pixels.

    Args:
        flow: ``(B, 2, H, W)`` displacement in pixels.

    Returns:
        ``(gx, gy)``, each ``(B, H, W)``: x and y source coordinates.
    """
    _, _, h, w = flow.shape
    ys = torch.arange(h, device=flow.device, dtype=flow.dtype)
    xs = torch.arange(w, device=flow.device, dtype=flow.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing='ij')
    return gx[None] + flow[:, 0], gy[None] + flow[:, 1]


def flow_warp(x: Tensor,
              flow: Tensor,
              mode: str = 'bilinear',
              padding_mode: str = 'zeros') -> Tuple[Tensor, Tensor]:
    """Backward-warp ``x`` with ``flow``: ``out[p] = x[p + flow[p]]``.

    Args:
        x: ``(B, C, H, W)`` tensor to warp (probabilities, features, images
            or label maps). Integer label maps need ``mode='nearest'``.
        flow: ``(B, 2, H, W)`` flow in pixels, channel 0 horizontal.
        mode: ``'bilinear'`` (continuous data) or ``'nearest'`` (label maps:
            every output value is one of the input values, no class is
            invented). Nearest rounds half-way positions away from the
            rounding ambiguity by sampling at ``round(p + flow)``.
        padding_mode: what is read outside the frame, ``'zeros'`` or
            ``'border'``; those pixels are also marked invalid in the mask.

    Returns:
        ``(out, valid)``: ``out`` of the shape and dtype of ``x``;
        ``valid`` a ``(B, 1, H, W)`` bool mask of pixels whose source
        position ``p + flow[p]`` lies inside the frame (for bilinear: inside
        ``[0, W-1] x [0, H-1]``, so no sample mixes in padding).
    """
    _check_shapes(x, flow)
    if mode not in ('bilinear', 'nearest'):
        raise ValueError(f"flow_warp: mode must be 'bilinear' or 'nearest', "
                         f'got {mode!r}')
    _, _, h, w = x.shape
    work_dtype = flow.dtype if flow.is_floating_point() else torch.float32
    if x.is_floating_point() and x.dtype == torch.float64:
        work_dtype = torch.float64
    gx, gy = flow_to_grid(flow.to(work_dtype))
    if mode == 'nearest':
        gx = torch.round(gx)
        gy = torch.round(gy)
        valid = (gx >= 0) & (gx <= w - 1) & (gy >= 0) & (gy <= h - 1)
    else:
        eps = 1e-4
        valid = (gx >= -eps) & (gx <= w - 1 + eps) & (gy >= -eps) & (
            gy <= h - 1 + eps)
    # Normalise to [-1, 1] with align_corners=True: pixel centres at integers.
    nx = 2.0 * gx / max(w - 1, 1) - 1.0
    ny = 2.0 * gy / max(h - 1, 1) - 1.0
    grid = torch.stack((nx, ny), dim=-1)
    if x.is_floating_point():
        src = x
        grid = grid.to(x.dtype)
    else:
        src = x.to(work_dtype)
    out = F.grid_sample(
        src, grid, mode=mode, padding_mode=padding_mode, align_corners=True)
    if not x.is_floating_point():
        out = out.round().to(x.dtype)
    return out, valid[:, None]


def occlusion_mask(img_t: Tensor,
                   img_tk_warped: Tensor,
                   alpha: float = 1.0,
                   pixel_scale: float = 255.0) -> Tensor:
    """Occlusion mask of the paper (Eq. 1): ``V = exp(-alpha |I_t - I^_{t+k}|)``.

    ``|.|`` is the L1 norm over colour channels of images rescaled to
    ``[0, 1]`` (dividing by ``pixel_scale``), so ``V`` is 1 where the warped
    frame matches and decays where the flow is wrong or the pixel occluded.

    Args:
        img_t: ``(B, 3, H, W)`` frame t.
        img_tk_warped: ``(B, 3, H, W)`` frame t+k warped to t.
        alpha: sharpness of the decay.
        pixel_scale: value range of the images (255 for raw pixels).

    Returns:
        ``(B, 1, H, W)`` mask in ``(0, 1]``, no gradient.
    """
    if img_t.shape != img_tk_warped.shape:
        raise ValueError('occlusion_mask: image shapes differ: '
                         f'{tuple(img_t.shape)} vs {tuple(img_tk_warped.shape)}')
    with torch.no_grad():
        diff = (img_t - img_tk_warped).abs().sum(dim=1, keepdim=True)
        return torch.exp(-alpha * diff / pixel_scale)


def forward_backward_valid(flow_ab: Tensor, flow_ba: Tensor,
                           alpha: float = 0.01, beta: float = 0.5) -> Tensor:
    """Forward-backward consistency of a flow pair (Sundaram et al., ECCV
    2010; the mask of Lai et al., ECCV 2018, and of VSPW's TC).

    A pixel ``x`` of frame a is consistent when the round trip
    ``x -> x + f_ab(x) -> x + f_ab(x) + f_ba(x + f_ab(x))`` comes back close
    to ``x``, relative to the motion:

        |f_ab + f_ba^w|^2 < alpha (|f_ab|^2 + |f_ba^w|^2) + beta,

    with ``f_ba^w(x) = f_ba(x + f_ab(x))`` (bilinear :func:`flow_warp`), and
    its target ``x + f_ab(x)`` lies inside the frame. Occluded pixels and
    flow errors fail the check.

    Args:
        flow_ab: ``(B, 2, H, W)`` flow from frame a to frame b, pixels.
        flow_ba: ``(B, 2, H, W)`` flow from frame b to frame a.
        alpha: tolerance relative to the squared motion.
        beta: absolute tolerance, squared pixels.

    Returns:
        ``(B, 1, H, W)`` bool mask of the consistent pixels of frame a.
    """
    if flow_ab.shape != flow_ba.shape:
        raise ValueError('forward_backward_valid: the two flows differ in '
                         f'shape: {tuple(flow_ab.shape)} vs '
                         f'{tuple(flow_ba.shape)}')
    with torch.no_grad():
        back, inside = flow_warp(flow_ba.float(), flow_ab.float())
        fwd = flow_ab.float()
        miss = (fwd + back).pow(2).sum(dim=1, keepdim=True)
        motion = fwd.pow(2).sum(dim=1, keepdim=True) + back.pow(2).sum(
            dim=1, keepdim=True)
        return (miss < alpha * motion + beta) & inside
