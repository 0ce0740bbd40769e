"""Loss modules of the method: TL, SF (pixel-wise + pair-wise), PF, MF."""
from .base import BaseTemporalDistillLoss
from .conv_lstm import ConvLSTM
from .multi_frame_loss import MultiFrameLoss
from .pairwise_frame_loss import PairwiseFrameLoss
from .pairwise_kd_loss import PairwiseKDLoss
from .pixelwise_kd_loss import PixelwiseKDLoss
from .similarity import self_similarity, similarity_distance, unit_columns
from .temporal_loss import TemporalLoss

__all__ = [
    'BaseTemporalDistillLoss', 'ConvLSTM', 'MultiFrameLoss',
    'PairwiseFrameLoss', 'PairwiseKDLoss', 'PixelwiseKDLoss', 'TemporalLoss',
    'self_similarity', 'similarity_distance', 'unit_columns'
]
