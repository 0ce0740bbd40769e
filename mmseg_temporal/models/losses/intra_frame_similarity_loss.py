"""Similarity of the pixels within a frame (pair-wise SF, Eq. 5, appendix A.1).

Registered as ``IntraFrameSimilarityLoss``.
"""
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .base import (
    BaseTemporalDistillLoss,
    autocast_off,
    check_4d,
    compute_dtype,
    resize_to,
    shape_str,
)
from .similarity import similarity_distance

__all__ = ['IntraFrameSimilarityLoss']


@MODELS.register_module()
class IntraFrameSimilarityLoss(BaseTemporalDistillLoss):
    """Squared difference of student and teacher self-similarity maps:
    every pixel of a frame paired with every pixel of the same frame.

    .. math::

        \\ell_{pa} = \\frac{1}{N^2} \\sum_{i=1}^N \\sum_{j=1}^N
                     (a^s_{ij} - a^t_{ij})^2, \\quad
        a_{ij} = \\frac{f_i^\\top f_j}{\\|f_i\\|_2 \\|f_j\\|_2}

    per sample over the ``N`` pixels of the pooled feature map, averaged over
    the batch. Features are first average-pooled with kernel = stride =
    ``pool_size`` (the authors' release: ``AvgPool2d(2, stride=2)`` on the
    last features before the classifier), which keeps the map's N small;
    the distance itself is computed exactly without the N x N maps
    (:func:`similarity_distance`). Student and teacher may have different
    channel counts.

    Args:
        pool_size: average-pooling kernel and stride (1 = no pooling).
        align_corners: of the bilinear resize of the teacher's features to
            the student's spatial size when they differ.
        loss_weight, loss_name, check_finite: see the base class.
    """

    def __init__(self,
                 pool_size: int = 2,
                 align_corners: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_sf_pair',
                 check_finite: bool = True) -> None:
        super().__init__(loss_weight, loss_name, check_finite)
        if int(pool_size) < 1:
            raise ValueError(f'{type(self).__name__}: pool_size must be >= 1, got '
                             f'{pool_size}')
        self.pool_size = int(pool_size)
        self.align_corners = bool(align_corners)

    def forward(self, student_feats: Tensor, teacher_feats: Tensor) -> Tensor:
        """Pair-wise KD loss of one frame.

        Args:
            student_feats: ``(B, Cs, H, W)`` student features.
            teacher_feats: ``(B, Ct, H', W')`` teacher features; resized to
                ``(H, W)`` if they differ; no gradient reaches them.

        Returns:
            Scalar loss (float32; float64 for float64 inputs).
        """
        name = self.loss_name
        check_4d('student_feats', student_feats, name)
        check_4d('teacher_feats', teacher_feats, name)
        if student_feats.shape[0] != teacher_feats.shape[0]:
            raise ValueError(f'{name}: student_feats '
                             f'{shape_str(student_feats)} and teacher_feats '
                             f'{shape_str(teacher_feats)} differ in batch '
                             'size')
        k = self.pool_size
        if min(student_feats.shape[-2:]) < k:
            raise ValueError(f'{name}: student_feats '
                             f'{shape_str(student_feats)} is smaller than '
                             f'pool_size={k}')
        dtype = compute_dtype(student_feats)
        with autocast_off(student_feats):
            s = student_feats.to(dtype)
            t = resize_to(teacher_feats.detach().to(dtype), s.shape[-2:],
                          self.align_corners)
            if k > 1:
                s = F.avg_pool2d(s, k, stride=k)
                t = F.avg_pool2d(t, k, stride=k)
            loss = similarity_distance(s, t).mean()
        return self._finish(loss, dtype)
