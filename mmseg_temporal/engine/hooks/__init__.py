"""Training hooks of the method."""
from .conv_lstm_clip_hook import ConvLSTMWeightClipHook

__all__ = ['ConvLSTMWeightClipHook']
