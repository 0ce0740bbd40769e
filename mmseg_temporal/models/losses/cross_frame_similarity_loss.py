"""Similarity of the pixels of one frame to those of another (PF, Eq. 2).

Registered as ``CrossFrameSimilarityLoss``.
"""
from typing import Optional

from mmseg.registry import MODELS
from torch import Tensor

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
from .similarity import similarity_distance

__all__ = ['CrossFrameSimilarityLoss']


@MODELS.register_module()
class CrossFrameSimilarityLoss(BaseTemporalDistillLoss):
    """Align the cross-frame similarity maps of student and teacher: every
    pixel of frame t paired with every pixel of frame t+k.

    .. math::

        \\ell_{PF} = \\frac{1}{N^2} \\sum_{i=1}^N \\sum_{j=1}^N
                     (a^S_{ij} - a^T_{ij})^2, \\quad
        a_{ij} = \\cos(q_t^i, q_{t+k}^j)

    per sample, averaged over the batch; ``q`` are class probabilities
    (softmax of the logits, the paper) or the raw inputs with
    ``use_softmax=False`` (logits, as in the authors' release, or features).
    Computed exactly with the trace identity in float64 (no ``N x N``
    matrix; time O(N C^2), memory O(N C + C^2); see
    :func:`similarity_distance`). The release's PF divides by mismatched
    norms (``|k_i| |q_j|`` instead of ``|q_i| |k_j|``); this is the paper's
    cosine.

    Args:
        use_softmax: take softmax over channels first (default, paper).
        align_corners: of the bilinear resize of teacher maps to the
            student's spatial size when they differ.
        loss_weight, loss_name, check_finite: see the base class.
    """

    def __init__(self,
                 use_softmax: bool = True,
                 align_corners: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_pf',
                 check_finite: bool = True) -> None:
        super().__init__(loss_weight, loss_name, check_finite)
        self.use_softmax = bool(use_softmax)
        self.align_corners = bool(align_corners)

    def forward(self,
                s_t: Tensor,
                s_tk: Tensor,
                t_t: Tensor,
                t_tk: Tensor,
                valid: Optional[Tensor] = None) -> Tensor:
        """PF loss of one frame pair.

        Args:
            s_t, s_tk: ``(B, Cs, H, W)`` student logits of frames t, t+k.
            t_t, t_tk: ``(B, Ct, H', W')`` teacher logits (Ct = Cs for
                logits, may differ with ``use_softmax=False`` features);
                resized to ``(H, W)`` if they differ; no gradient reaches
                them.
            valid: optional ``(B, [1,] H, W)`` mask (non-zero = valid) of
                pixels taking part in both frames; N is then the count of
                valid pixels of each sample.

        Returns:
            Scalar loss (float32; float64 for float64 inputs).
        """
        name = self.loss_name
        for arg, x in (('s_t', s_t), ('s_tk', s_tk), ('t_t', t_t),
                       ('t_tk', t_tk)):
            check_4d(arg, x, name)
        check_same_shape(name, ('s_t', s_t), ('s_tk', s_tk))
        check_same_shape(name, ('t_t', t_t), ('t_tk', t_tk))
        if s_t.shape[0] != t_t.shape[0] or (self.use_softmax
                                            and s_t.shape[1] != t_t.shape[1]):
            raise ValueError(f'{name}: student {shape_str(s_t)} and teacher '
                             f'{shape_str(t_t)} differ in batch size or '
                             'number of classes')
        dtype = compute_dtype(s_t, s_tk)
        size = s_t.shape[-2:]
        with autocast_off(s_t):
            vmask = prepare_valid(valid, s_t, name, dtype)
            maps = [s_t.to(dtype), s_tk.to(dtype),
                    resize_to(t_t.detach().to(dtype), size,
                              self.align_corners),
                    resize_to(t_tk.detach().to(dtype), size,
                              self.align_corners)]
            if self.use_softmax:
                maps = [m.softmax(dim=1) for m in maps]
            a, b, c, d = maps
            loss = similarity_distance(a, c, b, d, valid1=vmask,
                                       valid2=vmask).mean()
        return self._finish(loss, dtype)
