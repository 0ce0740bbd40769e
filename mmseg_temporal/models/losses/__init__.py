"""Loss modules of the method: TL, SF (pixel-wise + pair-wise), PF, MF.

``IntraFrameSimilarityLoss`` (pair-wise SF) and ``CrossFrameSimilarityLoss``
(PF) are named by what they pair.
"""
from .base import BaseTemporalDistillLoss
from .conv_lstm import ConvLSTM
from .cross_frame_similarity_loss import CrossFrameSimilarityLoss
from .intra_frame_similarity_loss import IntraFrameSimilarityLoss
from .multi_frame_loss import MultiFrameLoss
from .pixelwise_kd_loss import PixelwiseKDLoss
from .similarity import self_similarity, similarity_distance, unit_columns
from .temporal_loss import TemporalLoss

__all__ = [
    'BaseTemporalDistillLoss', 'ConvLSTM', 'CrossFrameSimilarityLoss',
    'IntraFrameSimilarityLoss', 'MultiFrameLoss', 'PixelwiseKDLoss',
    'TemporalLoss', 'self_similarity',
    'similarity_distance', 'unit_columns'
]
