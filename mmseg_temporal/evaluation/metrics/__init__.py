"""Evaluation metrics registered in ``mmseg.registry.METRICS``."""
from .sparse_iou_metric import SparseIoUMetric
from .temporal_consistency_metric import TemporalConsistencyMetric

__all__ = ['SparseIoUMetric', 'TemporalConsistencyMetric']
