"""Evaluation: temporal consistency (TC) and video consistency (VC) of
video segmentation, as plain functions and as MMSeg metrics."""
from .functional import (
    shared_class_means,
    shared_mean,
    tc_aggregate,
    tc_intersect_union,
    temporal_consistency,
    video_consistency,
)
from .metrics import SparseIoUMetric, TemporalConsistencyMetric, VideoConsistencyMetric

__all__ = ['tc_intersect_union', 'tc_aggregate', 'temporal_consistency',
           'shared_mean', 'shared_class_means', 'video_consistency',
           'SparseIoUMetric', 'TemporalConsistencyMetric',
           'VideoConsistencyMetric']
