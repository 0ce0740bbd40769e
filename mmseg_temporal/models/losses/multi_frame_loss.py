"""Multi-frame dependency distillation (MF, section 2.2 and appendix A.2)."""
from typing import Optional, Sequence, Tuple

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .base import (BaseTemporalDistillLoss, autocast_off, check_4d,
                   resize_to, shape_str)
from .conv_lstm import ConvLSTM
from .similarity import self_similarity

__all__ = ['MultiFrameLoss']


@MODELS.register_module()
class MultiFrameLoss(BaseTemporalDistillLoss):
    """Align the ConvLSTM memory of teacher and student similarity maps.

    For each frame t (time order) the features are average-pooled (kernel =
    stride = ``pool_size``; release: 16), turned into the cosine
    self-similarity map ``A_{F_t,F_t}`` ``(B, 1, N, N)`` and fed to one
    :class:`ConvLSTM` (Eq. 6) shared by teacher and student. With ``E^S``,
    ``E^T`` the final memory states ``(B, hidden, N, N)``::

        loss = loss_weight * (mean((E^T - E^S)^2) + reg_weight * mean(1 - E^T))

    The first term is the paper's ``||E^T - E^S||^2`` as a mean over
    elements (the release's MSE), so its scale does not grow with N.

    The ConvLSTM is a submodule of this loss, so the optimizer trains it with
    the student (the teacher's features are detached, but the ConvLSTM gets
    gradients from both branches). Two guards against the collapse point of
    the paper (all ConvLSTM weights and biases zero gives ``E^T = E^S = 0``
    and a zero loss that distils nothing):

    * anti-collapse regulariser ``reg_weight * mean(1 - E^T)``: its gradient
      reaches only the ConvLSTM and pushes the teacher's memory up, away
      from zero (the release's ``lstm_tea`` term, mean(1 - E^T));
    * weight clipping: every ConvLSTM parameter is clamped into
      ``clip_range`` after every optimiser step (``ConvLSTMWeightClipHook``),
      which bounds the memory that the regulariser enlarges. The paper gives
      no range and the release has none: ``(-0.5, 0.5)`` is this project's
      default.

    Args:
        hidden_channels: ConvLSTM hidden/memory channels (release: 4).
        kernel_size: ConvLSTM kernel (release: 3).
        peephole: use Eq. 6's peephole terms.
        pool_size: average-pooling kernel and stride on the features.
        clip_range: ``(low, high)`` for the ConvLSTM's weights, or ``None``.
        reg_weight: weight of the anti-collapse regulariser (0 disables it).
        align_corners: of the resize of teacher features to the student's
            spatial size when they differ.
        loss_weight, loss_name, check_finite: see the base class.
    """

    def __init__(self,
                 hidden_channels: int = 4,
                 kernel_size: int = 3,
                 peephole: bool = True,
                 pool_size: int = 16,
                 clip_range: Optional[Tuple[float, float]] = (-0.5, 0.5),
                 reg_weight: float = 1.0,
                 align_corners: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_mf',
                 check_finite: bool = True) -> None:
        super().__init__(loss_weight, loss_name, check_finite)
        if int(pool_size) < 1:
            raise ValueError(f'MultiFrameLoss: pool_size must be >= 1, got '
                             f'{pool_size}')
        self.pool_size = int(pool_size)
        self.reg_weight = float(reg_weight)
        self.align_corners = bool(align_corners)
        self.conv_lstm = ConvLSTM(1, hidden_channels, kernel_size, peephole,
                                  clip_range)

    def _maps(self, feats: Sequence[Tensor], size, dtype, teacher: bool):
        maps = []
        for f in feats:
            f = f.detach() if teacher else f
            f = resize_to(f.to(dtype), size, self.align_corners)
            if self.pool_size > 1:
                f = F.avg_pool2d(f, self.pool_size, stride=self.pool_size)
            maps.append(self_similarity(f)[:, None])
        return maps

    def _check(self, student_feats: Sequence[Tensor],
               teacher_feats: Sequence[Tensor]) -> None:
        name = self.loss_name
        if len(student_feats) == 0 or len(student_feats) != len(teacher_feats):
            raise ValueError(f'{name}: need as many (>= 1) student as teacher '
                             f'frames, got {len(student_feats)} and '
                             f'{len(teacher_feats)}')
        s0, t0 = student_feats[0], teacher_feats[0]
        for t, (s, tt) in enumerate(zip(student_feats, teacher_feats)):
            check_4d(f'student_feats[{t}]', s, name)
            check_4d(f'teacher_feats[{t}]', tt, name)
            if s.shape != s0.shape:
                raise ValueError(f'{name}: student_feats[{t}] {shape_str(s)} '
                                 f'differs from student_feats[0] '
                                 f'{shape_str(s0)}')
            if tt.shape != t0.shape:
                raise ValueError(f'{name}: teacher_feats[{t}] {shape_str(tt)} '
                                 f'differs from teacher_feats[0] '
                                 f'{shape_str(t0)}')
        if s0.shape[0] != t0.shape[0]:
            raise ValueError(f'{name}: student_feats {shape_str(s0)} and '
                             f'teacher_feats {shape_str(t0)} differ in batch '
                             'size')
        if min(s0.shape[-2:]) < self.pool_size:
            raise ValueError(f'{name}: features {shape_str(s0)} are smaller '
                             f'than pool_size={self.pool_size}')

    def forward(self, student_feats: Sequence[Tensor],
                teacher_feats: Sequence[Tensor]) -> Tensor:
        """MF loss of one clip.

        Args:
            student_feats: ``T`` maps ``(B, Cs, H, W)`` in time order
                (features of the last block before the classifier).
            teacher_feats: ``T`` maps ``(B, Ct, H', W')``; resized to
                ``(H, W)`` if they differ; no gradient reaches them.

        Returns:
            Scalar loss (in the ConvLSTM's dtype, float32 by default).
        """
        self._check(student_feats, teacher_feats)
        dtype = self.conv_lstm.gates.weight.dtype
        size = student_feats[0].shape[-2:]
        with autocast_off(student_feats[0]):
            _, e_s = self.conv_lstm(
                self._maps(student_feats, size, dtype, teacher=False))
            _, e_t = self.conv_lstm(
                self._maps(teacher_feats, size, dtype, teacher=True))
            loss = (e_t - e_s).square().mean()
            if self.reg_weight:
                loss = loss + self.reg_weight * (1.0 - e_t).mean()
        return self._finish(loss, dtype)
