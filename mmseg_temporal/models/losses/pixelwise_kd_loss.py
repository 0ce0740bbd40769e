"""Pixel-wise distillation (SF part 1, Eq. 4 of the paper's appendix A.1)."""
from typing import Optional

from mmseg.registry import MODELS
from torch import Tensor

from .base import (
    BaseTemporalDistillLoss,
    autocast_off,
    check_4d,
    compute_dtype,
    prepare_valid,
    resize_to,
    shape_str,
)

__all__ = ['PixelwiseKDLoss']


@MODELS.register_module()
class PixelwiseKDLoss(BaseTemporalDistillLoss):
    """KL divergence between teacher and student class distributions.

    .. math::

        \\ell_{pi} = \\frac{T^2}{N} \\sum_{i \\in \\Omega}
            \\mathrm{KL}(q_t^i \\| q_s^i), \\quad
            q^i = \\mathrm{softmax}(z^i / T)

    summed over classes per pixel and averaged over the ``N`` valid pixels
    of the batch. Eq. 4 writes ``KL(q_s || q_t)``; like the authors' release
    and Hinton-style distillation this uses ``KL(teacher || student)``, the
    cross-entropy to the teacher's soft targets up to a constant.

    Temperature: ``T = 1`` by default (the release's ``T=1``); the loss is
    multiplied by ``T^2`` so that its gradients keep their scale when ``T``
    changes (no effect at ``T = 1``). The release averages over classes too
    (``KLDivLoss`` 'mean', a further 1/C; fold it into ``loss_weight`` to
    reproduce its scale).

    Args:
        temperature: softmax temperature ``T`` (> 0).
        align_corners: of the bilinear resize of the teacher's logits to the
            student's size.
        loss_weight, loss_name, check_finite: see the base class.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 align_corners: bool = False,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_sf_pixel',
                 check_finite: bool = True) -> None:
        super().__init__(loss_weight, loss_name, check_finite)
        if temperature <= 0:
            raise ValueError(f'PixelwiseKDLoss: temperature must be > 0, got '
                             f'{temperature}')
        self.temperature = float(temperature)
        self.align_corners = bool(align_corners)

    def forward(self,
                student_logits: Tensor,
                teacher_logits: Tensor,
                valid: Optional[Tensor] = None) -> Tensor:
        """Pixel-wise KD loss.

        Args:
            student_logits: ``(B, C, h, w)``.
            teacher_logits: ``(B, C, h', w')``; resized (bilinear) to
                ``(h, w)`` if it differs; no gradient reaches it.
            valid: optional ``(B, [1,] h, w)`` mask (non-zero = valid), e.g.
                ``label != ignore_index`` to skip padding.

        Returns:
            Scalar loss (float32; float64 for float64 inputs).
        """
        name = self.loss_name
        check_4d('student_logits', student_logits, name)
        check_4d('teacher_logits', teacher_logits, name)
        if student_logits.shape[:2] != teacher_logits.shape[:2]:
            raise ValueError(f'{name}: student_logits '
                             f'{shape_str(student_logits)} and teacher_logits '
                             f'{shape_str(teacher_logits)} differ in batch '
                             'size or number of classes')
        dtype = compute_dtype(student_logits)
        with autocast_off(student_logits):
            s = student_logits.to(dtype)
            t = resize_to(teacher_logits.detach().to(dtype), s.shape[-2:],
                          self.align_corners)
            vmask = prepare_valid(valid, s, name, dtype)
            temp = self.temperature
            log_q_s = (s / temp).log_softmax(dim=1)
            log_q_t = (t / temp).log_softmax(dim=1)
            kl = (log_q_t.exp() * (log_q_t - log_q_s)).sum(dim=1, keepdim=True)
            if vmask is None:
                loss = kl.mean()
            else:
                loss = (kl * vmask).sum() / vmask.sum().clamp_min(1.0)
            loss = loss * temp * temp
        return self._finish(loss, dtype)
