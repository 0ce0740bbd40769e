"""Evaluation metrics registered in ``mmseg.registry.METRICS``."""
from .motion_consistency_metric import MotionConsistencyMetric
from .sequence_frames import SequenceFrameMetric
from .sparse_iou_metric import SparseIoUMetric
from .temporal_consistency_metric import TemporalConsistencyMetric
from .video_consistency_metric import VideoConsistencyMetric

__all__ = ['SequenceFrameMetric', 'SparseIoUMetric',
           'TemporalConsistencyMetric', 'VideoConsistencyMetric',
           'MotionConsistencyMetric']
