"""Evaluation: temporal consistency (TC) of video segmentation."""
from .functional import tc_aggregate, tc_intersect_union, temporal_consistency
from .metrics import SparseIoUMetric, TemporalConsistencyMetric

__all__ = ['tc_intersect_union', 'tc_aggregate', 'temporal_consistency',
           'SparseIoUMetric', 'TemporalConsistencyMetric']
