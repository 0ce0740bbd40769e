"""Motion-guided temporal loss (TL, Eq. 1 of the paper)."""
from typing import Optional

import torch
from mmseg.registry import MODELS
from torch import Tensor

from ...flow.ops import flow_warp, occlusion_mask
from .base import (
    BaseTemporalDistillLoss,
    autocast_off,
    check_4d,
    check_same_shape,
    compute_dtype,
    prepare_valid,
    resize_to,
    shape_str,
)

__all__ = ['TemporalLoss']


@MODELS.register_module()
class TemporalLoss(BaseTemporalDistillLoss):
    """Temporal loss: frame t's prediction vs frame t+k's warped to t.

    .. math::

        \\ell_{tl} = \\frac{1}{N} \\sum_{i \\in \\Omega} V_i
                     \\| q_t^i - \\hat q_{t+k \\Rightarrow t}^i \\|_2^2

    ``q`` are class probabilities (softmax of the logits; or the logits
    themselves with ``compare='logits'``), ``q^`` is frame t+k's map
    backward-warped to t with ``flow_t_to_tk`` (bilinear), the squared norm
    is summed over classes, ``V = exp(-alpha * sum_c |I_t - I^_{t+k}| /
    pixel_scale)`` is the occlusion mask (``I^`` the warped frame t+k), and
    ``Omega`` (``N = |Omega|`` over the whole batch) is the set of pixels
    whose flow target lies inside frame t+k and that ``valid`` marks (e.g.
    not padding). The loss is 0 when no pixel is valid.

    Occlusion-mask scaling: the defaults (``alpha=1``, ``pixel_scale=255``)
    read ``|.|`` on images in [0, 1]. The authors' release computes
    ``exp(-|sum_c (I_t - I^)|)`` on mean/std-normalised images, i.e. about
    ``pixel_scale=57.4`` for raw 0-255 images (``pixel_scale=1`` for images
    already normalised by MMSeg's data preprocessor), with the absolute
    value taken after the channel sum; this class always uses the sum of
    absolute values (:func:`occlusion_mask`).

    The release also compares logits (``compare='logits'``), averages the
    squared difference over classes (a further 1/C, fold it into
    ``loss_weight``), weights by ``V^2`` and has no in-frame mask; this class
    follows the paper's Eq. 1.

    Three forms of the per-pixel distance (``compare``), with the gradient
    each gives frame t's logits ``z_t`` on a confident flip (frame t says
    class a with probability p, frame t+k class b with p; docs/losses.md
    has the figures):

    * ``'prob'``: ``||q_t - q^||^2`` on probabilities (the paper's Eq. 1).
      Gradient ``2 J(q_t)^T (q_t - q^)``, with the softmax Jacobian ``J``,
      vanishes as the prediction becomes confident.
    * ``'logits'``: ``||z_t - z^||^2`` on logits (the authors' release,
      which also averages over the C classes: its scale is
      ``loss_weight = 0.1 / C``). Gradient ``2 (z_t - z^)``, growing with
      confidence and also pulling on the logit scale of pixels that agree.
    * ``'kl'``: the symmetric KL ``sum_c (q^ - q_t)(log q^ - log q_t)``,
      each frame pulled towards the other's (stop-gradient) distribution:
      gradient ``q_t - q^`` on ``z_t`` (and ``q^ - q_t`` through the warp
      on frame t+k), the cross-entropy's gradient to a soft label: bounded
      by sqrt(2) and not vanishing on confident flips; zero when both
      frames agree, whatever their logit scale.

    Args:
        compare: ``'prob'`` (paper), ``'logits'`` (release) or ``'kl'``.
        detach_warped: stop the gradient through the warped frame t+k (the
            release lets it flow into both frames; default ``False``).
        use_occlusion: weight by the occlusion mask ``V`` (else ``V = 1``).
        alpha: sharpness of ``V``.
        pixel_scale: value range the image difference is divided by.
        align_corners: of the bilinear upsampling of logits to the flow's
            resolution (MMSeg's decode heads default to ``False``).
        loss_weight, loss_name, check_finite: see the base class.
    """

    COMPARE = ('prob', 'logits', 'kl')

    def __init__(self,
                 compare: str = 'prob',
                 detach_warped: bool = False,
                 use_occlusion: bool = True,
                 alpha: float = 1.0,
                 pixel_scale: float = 255.0,
                 align_corners: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_tl',
                 check_finite: bool = True) -> None:
        super().__init__(loss_weight, loss_name, check_finite)
        if compare not in self.COMPARE:
            raise ValueError(f'TemporalLoss: compare must be one of '
                             f'{self.COMPARE}, got {compare!r}')
        if pixel_scale <= 0:
            raise ValueError(f'TemporalLoss: pixel_scale must be > 0, got '
                             f'{pixel_scale}')
        self.compare = compare
        self.detach_warped = bool(detach_warped)
        self.use_occlusion = bool(use_occlusion)
        self.alpha = float(alpha)
        self.pixel_scale = float(pixel_scale)
        self.align_corners = bool(align_corners)

    def _check(self, logits_t: Tensor, logits_tk: Tensor, flow: Tensor,
               img_t: Tensor, img_tk: Tensor) -> None:
        name = self.loss_name
        for arg, x in (('logits_t', logits_t), ('logits_tk', logits_tk),
                       ('flow_t_to_tk', flow), ('img_t', img_t),
                       ('img_tk', img_tk)):
            check_4d(arg, x, name)
        check_same_shape(name, ('logits_t', logits_t), ('logits_tk', logits_tk))
        check_same_shape(name, ('img_t', img_t), ('img_tk', img_tk))
        if (flow.shape[1] != 2 or flow.shape[0] != img_t.shape[0]
                or flow.shape[-2:] != img_t.shape[-2:]):
            raise ValueError(f'{name}: flow_t_to_tk {shape_str(flow)} must be '
                             f'(B, 2, H, W) matching img_t {shape_str(img_t)}')
        if logits_t.shape[0] != flow.shape[0]:
            raise ValueError(f'{name}: batch of logits_t '
                             f'{shape_str(logits_t)} '
                             f'differs from flow_t_to_tk {shape_str(flow)}')

    def forward(self,
                logits_t: Tensor,
                logits_tk: Tensor,
                flow_t_to_tk: Tensor,
                img_t: Tensor,
                img_tk: Tensor,
                valid: Optional[Tensor] = None) -> Tensor:
        """Temporal loss of one frame pair.

        Args:
            logits_t: ``(B, C, h, w)`` student logits of frame t.
            logits_tk: ``(B, C, h, w)`` logits of frame t+k.
            flow_t_to_tk: ``(B, 2, H, W)`` flow M_{t->t+k} in pixels at
                resolution (H, W) (channel 0 horizontal); logits are
                upsampled to (H, W) when ``(h, w) != (H, W)``.
            img_t, img_tk: ``(B, 3, H, W)`` frames, in the value range that
                ``pixel_scale`` assumes.
            valid: optional ``(B, [1,] H, W)`` mask of usable pixels of
                frame t (e.g. not padding); non-zero = valid.

        Returns:
            Scalar loss (float32, float64 for float64 inputs); the flow and
            images get no gradient.
        """
        self._check(logits_t, logits_tk, flow_t_to_tk, img_t, img_tk)
        dtype = compute_dtype(logits_t, logits_tk)
        size = flow_t_to_tk.shape[-2:]
        with autocast_off(logits_t):
            flow = flow_t_to_tk.detach().to(dtype)
            vmask = prepare_valid(valid, flow, self.loss_name, dtype)
            x_t = resize_to(logits_t.to(dtype), size, self.align_corners)
            x_tk = resize_to(logits_tk.to(dtype), size, self.align_corners)
            if self.compare != 'logits':
                x_tk = x_tk.softmax(dim=1)
            warped, inside = flow_warp(x_tk, flow)
            if self.detach_warped:
                warped = warped.detach()
            mask = inside.to(dtype)
            if vmask is not None:
                mask = mask * vmask
            weight = mask
            if self.use_occlusion:
                img_tk_w, _ = flow_warp(img_tk.detach().to(dtype), flow)
                weight = mask * occlusion_mask(
                    img_t.detach().to(dtype), img_tk_w, self.alpha,
                    self.pixel_scale)
            count = mask.sum()
            sq = self._distance(x_t, warped)
            loss = (sq * weight).sum() / count.clamp_min(1.0)
        return self._finish(loss, dtype)

    def _distance(self, logits_t: Tensor, warped: Tensor) -> Tensor:
        """Per-pixel distance ``(B, 1, H, W)`` between frame t's logits and
        frame t+k's warped map (probabilities, or logits for 'logits')."""
        if self.compare == 'logits':
            return (logits_t - warped).square().sum(dim=1, keepdim=True)
        if self.compare == 'prob':
            return (logits_t.softmax(dim=1) - warped).square().sum(
                dim=1, keepdim=True)
        q_t, log_q_t = logits_t.softmax(dim=1), logits_t.log_softmax(dim=1)
        # warped probabilities are 0 outside the frame (masked out): clamp
        # keeps their log finite
        log_w = warped.clamp_min(torch.finfo(warped.dtype).tiny).log()
        return (warped.detach() * (log_w.detach() - log_q_t) +
                q_t.detach() * (log_q_t.detach() - log_w)).sum(
                    dim=1, keepdim=True)
