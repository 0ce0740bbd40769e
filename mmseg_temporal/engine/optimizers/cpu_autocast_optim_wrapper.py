"""bfloat16 autocast training that also runs on the CPU.

MMEngine 0.10.7's ``AmpOptimWrapper`` asserts a GPU/NPU/MLU/MUSA at
construction (``'AmpOptimWrapper' is only available training on gpu, npu,
mlu or musa``), so mixed precision on the CPU needs its own wrapper. This
one is the plain ``OptimWrapper`` with the forward (MMEngine's
``train_step`` runs the data preprocessor and the losses inside
``optim_context``) under ``torch.autocast(device_type=<the model's device
type>, dtype=torch.bfloat16)``. bfloat16 keeps float32's exponent range, so
no loss scaler is needed; the backward pass and the optimiser step run
outside autocast on the float32 parameters.

The project's losses compute in float32 with autocast off whatever the
caller's state (``models/losses/base.py``), and PF / pair-wise SF
accumulate their Gram blocks in float64; MMSeg's cross-entropy runs in
float32 under CPU autocast (PyTorch's autocast float32 list).

On a CPU without bfloat16 arithmetic in hardware the wrapper refuses to
start (:func:`~mmseg_temporal.utils.cpu_info.check_native_bf16`, one
line): PyTorch would emulate bfloat16 there, more slowly than float32.
"""
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from ...utils.cpu_info import check_native_bf16

__all__ = ['CPUAutocastOptimWrapper']


def _device_type(params_or_model) -> str:
    """Device type (``'cpu'``, ``'cuda'`` ...) of the first parameter."""
    for p in params_or_model:
        return p.device.type
    return 'cpu'


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under bfloat16 autocast on the
    model's device (CPU included).

    Config: ``optim_wrapper = dict(type='CPUAutocastOptimWrapper',
    optimizer=...)`` (``configs/_base_/schedules/bf16_cpu.py``; see
    docs/training.md).

    Args:
        dtype: the autocast dtype; only ``'bfloat16'`` (float16 would need
            a loss scaler: use MMEngine's ``AmpOptimWrapper`` on a GPU).
        check_cpu: refuse to start on a CPU without bfloat16 hardware
            support (:class:`~mmseg_temporal.utils.cpu_info.CPUFeatureError`).
        **kwargs: ``OptimWrapper``'s (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self, dtype: str = 'bfloat16', check_cpu: bool = True,
                 **kwargs) -> None:
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f"CPUAutocastOptimWrapper: dtype must be 'bfloat16' "
                             f'(float16 needs a loss scaler: AmpOptimWrapper on a '
                             f'GPU), got {dtype!r}')
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16
        params = (p for group in self.optimizer.param_groups
                  for p in group['params'])
        if check_cpu and _device_type(params) == 'cpu':
            check_native_bf16('CPUAutocastOptimWrapper (bf16 training on the CPU)')

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper``'s context (gradient accumulation) + bfloat16
        autocast on ``model``'s device type."""
        device_type = _device_type(model.parameters())
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=self.cast_dtype):
            yield
