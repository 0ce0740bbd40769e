"""Shared plumbing of the method's losses: naming, weighting, dtype, checks.

Every loss of the package derives from :class:`BaseTemporalDistillLoss`,
which gives it the MMSeg conventions (``loss_weight``, a ``loss_name``
starting with ``loss_``) and three guarantees:

* computation in float32 (float64 when an input is float64, e.g. for
  ``gradcheck``) with autocast switched off inside the loss, whatever the
  caller's autocast state;
* shape errors are ``ValueError`` naming both shapes;
* a NaN or Inf loss raises ``FloatingPointError`` naming the loss (one
  ``torch.isfinite(loss).all()`` per call) instead of silently poisoning the
  weights.

A ``loss_weight`` that is negative or not finite is refused at construction
(:func:`check_non_negative`: a ``ConfigError`` naming the key).
"""
import contextlib
import math
from typing import Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...utils.errors import ConfigError

__all__ = ['BaseTemporalDistillLoss', 'compute_dtype', 'autocast_off',
           'shape_str', 'check_4d', 'check_same_shape', 'resize_to', 'prepare_valid',
           'assert_finite', 'check_non_negative']


def shape_str(x: Tensor) -> str:
    """``(B, C, H, W)``-style string of a tensor's shape."""
    return str(tuple(x.shape))


def compute_dtype(*tensors: Optional[Tensor]) -> torch.dtype:
    """float64 if any floating input is float64, else float32."""
    for t in tensors:
        if t is not None and t.dtype == torch.float64:
            return torch.float64
    return torch.float32


def autocast_off(ref: Tensor) -> contextlib.AbstractContextManager:
    """Context that disables autocast on ``ref``'s device type."""
    return torch.autocast(device_type=ref.device.type, enabled=False)


def check_4d(name: str, x: Tensor, loss_name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is ``(B, C, H, W)``."""
    if not isinstance(x, Tensor) or x.dim() != 4:
        got = shape_str(x) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f'{loss_name}: {name} must have shape (B, C, H, W), '
                         f'got {got}')


def check_same_shape(loss_name: str, a: Tuple[str, Tensor],
                     b: Tuple[str, Tensor]) -> None:
    """Raise ``ValueError`` naming both inputs unless ``a`` and ``b``, given
    as ``(name, tensor)``, have the same shape."""
    (name_a, x), (name_b, y) = a, b
    if x.shape != y.shape:
        raise ValueError(f'{loss_name}: {name_a} {shape_str(x)} and {name_b} '
                         f'{shape_str(y)} differ')


def resize_to(x: Tensor, size: Sequence[int], align_corners: bool) -> Tensor:
    """Bilinear resize of ``(B, C, H, W)`` to ``size`` (no-op if equal)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode='bilinear',
                         align_corners=align_corners)


def prepare_valid(valid: Optional[Tensor], ref: Tensor, loss_name: str,
                  dtype: torch.dtype) -> Optional[Tensor]:
    """Turn a ``(B, H, W)`` or ``(B, 1, H, W)`` mask into ``(B, 1, H, W)``.

    ``ref`` is the ``(B, *, H, W)`` tensor the mask must match. Non-zero
    entries are valid (bool or 0/1 float); returns ``None`` for ``None``.
    """
    if valid is None:
        return None
    v = valid[:, None] if valid.dim() == 3 else valid
    if (v.dim() != 4 or v.shape[1] != 1 or v.shape[0] != ref.shape[0]
            or v.shape[-2:] != ref.shape[-2:]):
        raise ValueError(f'{loss_name}: valid mask of shape '
                         f'{shape_str(valid)} '
                         f'does not match (B, [1,] H, W) of {shape_str(ref)}')
    return (v.detach() != 0).to(dtype)


def assert_finite(losses: Mapping[str, Tensor]) -> None:
    """Raise ``FloatingPointError`` naming every entry of ``losses`` (name ->
    tensor) that holds a NaN or Inf; one ``isfinite`` over all of them.

    The one finite check of the package: each loss module calls it on its
    own value (``check_finite``), the ``TemporalDistillSegmentor`` once per
    step on all its loss entries (CE included) with its modules' own checks
    off."""
    values = {k: v for k, v in losses.items() if isinstance(v, Tensor)}
    if not values:
        return
    flat = torch.cat([v.detach().reshape(-1).float() for v in values.values()])
    if bool(torch.isfinite(flat).all()):
        return
    bad = [f'{k} ({v.detach().flatten()[:4].tolist()})'
           for k, v in values.items() if not bool(torch.isfinite(v).all())]
    raise FloatingPointError(
        f'{", ".join(bad)} not finite: NaN/Inf in the inputs or an overflow; '
        'refusing to return it so that it does not poison the weights')


def check_non_negative(value, key: str) -> float:
    """``value`` as a float; a :class:`ConfigError` naming ``key`` unless
    it is a finite number >= 0 (a negative weight would train the model
    *away* from the term; NaN/Inf would poison the weights)."""
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{key} must be a number >= 0, got {value!r}') from None
    if isinstance(value, bool) or not math.isfinite(weight) or weight < 0:
        raise ConfigError(f'{key} must be a finite number >= 0, got {value!r}')
    return weight


class BaseTemporalDistillLoss(nn.Module):
    """Base of the method's losses (MMSeg loss conventions).

    Args:
        loss_weight: factor applied to the loss, a finite number >= 0 (the
            paper's lambda = 0.1 is meant to be set here).
        loss_name: key of the loss in the losses dict; must start with
            ``loss_`` for MMSeg/MMEngine to add it to the total.
        check_finite: raise ``FloatingPointError`` on a NaN/Inf loss.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_',
                 check_finite: bool = True) -> None:
        super().__init__()
        if not isinstance(loss_name, str) or not loss_name.startswith('loss_'):
            raise ConfigError(f"loss_name must start with 'loss_' (MMSeg only "
                              f'back-propagates those), got {loss_name!r}')
        self.loss_weight = check_non_negative(
            loss_weight, f'{type(self).__name__}.loss_weight')
        self._loss_name = loss_name
        self.check_finite = bool(check_finite)

    @property
    def loss_name(self) -> str:
        """Name of the loss item; ``loss_`` prefixed so that it is summed
        into the total loss and back-propagated."""
        return self._loss_name

    def _finish(self, loss: Tensor, out_dtype: torch.dtype) -> Tensor:
        """Weight, cast to ``out_dtype`` and check a scalar loss."""
        loss = (self.loss_weight * loss).to(out_dtype)
        if self.check_finite:
            assert_finite({self.loss_name: loss})
        return loss

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, loss_name={self.loss_name!r}'
