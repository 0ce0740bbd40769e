"""Evaluation metrics registered in ``mmseg.registry.METRICS``."""
from .temporal_consistency_metric import TemporalConsistencyMetric

__all__ = ['TemporalConsistencyMetric']
