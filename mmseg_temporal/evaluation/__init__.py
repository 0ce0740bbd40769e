"""Evaluation: temporal consistency (TC) and video consistency (VC) of
video segmentation, as plain functions and as MMSeg metrics."""
from .functional import (
    predicted_class_mean,
    shared_class_means,
    tc_aggregate,
    tc_intersect_union,
    temporal_consistency,
    video_consistency,
)
from .metrics import SparseIoUMetric, TemporalConsistencyMetric, VideoConsistencyMetric

__all__ = ['tc_intersect_union', 'tc_aggregate', 'temporal_consistency',
           'predicted_class_mean', 'shared_class_means', 'video_consistency',
           'SparseIoUMetric', 'TemporalConsistencyMetric',
           'VideoConsistencyMetric']
