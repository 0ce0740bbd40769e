"""Engine components (hooks) of the method."""
from .hooks import ConvLSTMWeightClipHook

__all__ = ['ConvLSTMWeightClipHook']
