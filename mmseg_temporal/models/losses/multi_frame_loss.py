"""Multi-frame dependency distillation (MF, section 2.2 and appendix A.2)."""
from typing import Optional, Sequence, Tuple

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .base import BaseTemporalDistillLoss, autocast_off, check_4d, resize_to, shape_str
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

        loss = loss_weight * (mean((E^T - E^S)^2) / s^2 + reg_weight * R)

    The first term is the paper's ``||E^T - E^S||^2`` as a mean over
    elements, measured in units of ``s = target_std``, the spread the
    anti-collapse term ``R`` holds the teacher's memory at.

    The ConvLSTM is a submodule of this loss, so the optimizer trains it with
    the student (the teacher's features are detached, but the ConvLSTM gets
    gradients from both branches). Minimising the distance alone, it
    collapses to a memory that ignores its input (all weights zero gives
    ``E^T = E^S = 0``, the paper's collapse point), and then passes no
    gradient to the student. ``anti_collapse`` chooses ``R``:

    * ``'batch_std'`` (default): ``mean_c relu(1 - sigma_c / s)`` with
      ``sigma_c`` the standard deviation of ``E^T`` across the samples of
      the batch (per position, averaged over positions) of memory channel
      c. Only input-driven variation counts (a memory that ignores its input
      has ``sigma = 0`` whatever its spatial pattern), and the hinge stops
      pushing at ``s``, so it neither lets the memory collapse nor drives it
      into saturation. With one sample per batch the spread is taken over
      positions instead (weaker: border effects count too).
    * ``'mean'``: the release's ``lstm_tea`` term ``mean(1 - E^T)``, this
      loss's former default. It pushes the memory up without bound: under
      weight clipping it saturates (gates at 0/1, ``E^T`` near its maximum
      T), ``loss_mf`` goes negative and the memory barely depends on the
      input (docs/losses.md).
    * ``None``: no term (the release's ``CriterionLSTM``, which matches
      both hidden and memory states with MSE, has none and collapses).

    Weight clipping: every ConvLSTM parameter is clamped into ``clip_range``
    after every optimiser step (``ConvLSTMWeightClipHook``). The paper gives
    no range and the release has none: ``(-0.5, 0.5)`` is this project's
    default.

    Args:
        hidden_channels: ConvLSTM hidden/memory channels (release: 4).
        kernel_size: ConvLSTM kernel (release: 3).
        peephole: use Eq. 6's peephole terms.
        pool_size: average-pooling kernel and stride on the features.
        clip_range: ``(low, high)`` for the ConvLSTM's weights, or ``None``.
        anti_collapse: ``'batch_std'``, ``'mean'`` or ``None`` (see above).
        target_std: ``s``, the teacher memory's spread that ``'batch_std'``
            keeps and the distance is measured in (``'mean'`` and ``None``
            use ``s = 1``, the former loss).
        reg_weight: weight of ``R`` (0 disables it).
        align_corners: of the resize of teacher features to the student's
            spatial size when they differ.
        loss_weight, loss_name, check_finite: see the base class.
    """

    ANTI_COLLAPSE = ('batch_std', 'mean', None)

    def __init__(self,
                 hidden_channels: int = 4,
                 kernel_size: int = 3,
                 peephole: bool = True,
                 pool_size: int = 16,
                 clip_range: Optional[Tuple[float, float]] = (-0.5, 0.5),
                 anti_collapse: Optional[str] = 'batch_std',
                 target_std: float = 0.1,
                 reg_weight: float = 1.0,
                 align_corners: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_mf',
                 check_finite: bool = True) -> None:
        super().__init__(loss_weight, loss_name, check_finite)
        if int(pool_size) < 1:
            raise ValueError(f'MultiFrameLoss: pool_size must be >= 1, got '
                             f'{pool_size}')
        if anti_collapse not in self.ANTI_COLLAPSE:
            raise ValueError(f'MultiFrameLoss: anti_collapse must be one of '
                             f'{self.ANTI_COLLAPSE}, got {anti_collapse!r}')
        if not target_std > 0:
            raise ValueError(f'MultiFrameLoss: target_std must be > 0, got '
                             f'{target_std}')
        self.pool_size = int(pool_size)
        self.anti_collapse = anti_collapse
        self.target_std = float(target_std) if anti_collapse == 'batch_std' \
            else 1.0
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
            loss = (e_t - e_s).square().mean() / self.target_std ** 2
            if self.reg_weight and self.anti_collapse is not None:
                loss = loss + self.reg_weight * self.collapse_penalty(e_t)
        return self._finish(loss, dtype)

    def collapse_penalty(self, memory: Tensor) -> Tensor:
        """``R`` of the teacher's final memory ``(B, hidden, N, N)``."""
        if self.anti_collapse == 'mean':
            return (1.0 - memory).mean()
        if memory.shape[0] > 1:
            var = memory.var(dim=0, unbiased=False).mean(dim=(1, 2))
        else:
            var = memory[0].flatten(1).var(dim=1, unbiased=False)
        spread = (var + 1e-12).sqrt()
        return F.relu(1.0 - spread / self.target_std).mean()
