"""Training hooks of the method."""
from .conv_lstm_clip_hook import ConvLSTMWeightClipHook
from .finite_checkpoint_hook import FiniteCheckpointHook
from .progress_bar_hook import ProgressBarHook

__all__ = ['ConvLSTMWeightClipHook', 'FiniteCheckpointHook', 'ProgressBarHook']
