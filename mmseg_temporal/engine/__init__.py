"""Engine components of the method: hooks and optimiser wrappers."""
from .hooks import ConvLSTMWeightClipHook
from .optimizers import CPUAutocastOptimWrapper

__all__ = ['ConvLSTMWeightClipHook', 'CPUAutocastOptimWrapper']
