"""Loss modules of the method: TL, SF (pixel-wise + pair-wise), PF, MF.

``IntraFrameSimilarityLoss`` (pair-wise SF) and ``CrossFrameSimilarityLoss``
(PF) are named by what they pair; their former names ``PairwiseKDLoss`` and
``PairwiseFrameLoss`` stay registered (and importable) as aliases.
"""
from .base import BaseTemporalDistillLoss
from .conv_lstm import ConvLSTM
from .cross_frame_similarity_loss import CrossFrameSimilarityLoss, PairwiseFrameLoss
from .intra_frame_similarity_loss import IntraFrameSimilarityLoss, PairwiseKDLoss
from .multi_frame_loss import MultiFrameLoss
from .pixelwise_kd_loss import PixelwiseKDLoss
from .similarity import self_similarity, similarity_distance, unit_columns
from .temporal_loss import TemporalLoss

__all__ = [
    'BaseTemporalDistillLoss', 'ConvLSTM', 'CrossFrameSimilarityLoss',
    'IntraFrameSimilarityLoss', 'MultiFrameLoss', 'PairwiseFrameLoss',
    'PairwiseKDLoss', 'PixelwiseKDLoss', 'TemporalLoss', 'self_similarity',
    'similarity_distance', 'unit_columns'
]
