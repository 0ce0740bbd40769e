"""Clip the MF loss's ConvLSTM weights after every optimiser step."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ...models.losses.conv_lstm import ConvLSTM

__all__ = ['ConvLSTMWeightClipHook']


@HOOKS.register_module()
class ConvLSTMWeightClipHook(Hook):
    """Keep every ConvLSTM parameter of the model inside its clip range.

    The paper clips the ConvLSTM of the multi-frame (MF) loss to a range so
    that, together with MF's anti-collapse regulariser, its memory neither
    collapses to zero nor blows up. This hook finds every
    :class:`ConvLSTM` in ``runner.model`` (unwrapping DDP-style wrappers via
    ``model.module``; a ``MultiFrameLoss`` holds one) and clamps all its
    parameters (kernels, biases, peepholes) after every training iteration,
    i.e. after the optimiser step (MMEngine steps inside ``train_step``),
    and once before training (so a loaded checkpoint starts in range).

    Args:
        clip_range: ``(low, high)`` used for all ConvLSTMs; ``None`` (default)
            uses each module's own ``clip_range`` (``MultiFrameLoss``'s
            config).
    """

    priority = 'NORMAL'

    def __init__(self, clip_range: Optional[Sequence[float]] = None) -> None:
        if clip_range is not None:
            clip_range = (float(clip_range[0]), float(clip_range[1]))
            if not clip_range[0] < clip_range[1]:
                raise ValueError(f'ConvLSTMWeightClipHook: clip_range must be '
                                 f'(low, high) with low < high, got '
                                 f'{clip_range}')
        self.clip_range: Optional[Tuple[float, float]] = clip_range

    @staticmethod
    def find_conv_lstms(model: nn.Module) -> list:
        """All :class:`ConvLSTM` modules of ``model`` (wrapper unwrapped)."""
        while is_model_wrapper(model):
            model = model.module
        return [m for m in model.modules() if isinstance(m, ConvLSTM)]

    def clip(self, model: nn.Module) -> int:
        """Clip all ConvLSTMs of ``model``; returns how many were found."""
        mods = self.find_conv_lstms(model)
        for m in mods:
            m.clip_(self.clip_range)
        return len(mods)

    def before_train(self, runner) -> None:
        if self.clip(runner.model) == 0:
            print_log('ConvLSTMWeightClipHook: the model has no ConvLSTM '
                      '(no MultiFrameLoss?); the hook does nothing',
                      logger='current', level=30)

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch=None, outputs=None) -> None:
        self.clip(runner.model)
