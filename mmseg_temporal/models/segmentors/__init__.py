"""Segmentors: the temporal distillation wrapper of a per-frame student."""
from .temporal_distill import TemporalDistillSegmentor

__all__ = ['TemporalDistillSegmentor']
