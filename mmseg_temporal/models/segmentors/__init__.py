"""Segmentors: the temporal distillation wrapper of a per-frame student, and
the EMA-smoothed test-time wrapper of any per-frame model."""
from .ema_smoothed import EMASmoothedSegmentor
from .motion_consistency import MotionConsistencySegmentor
from .temporal_distill import TemporalDistillSegmentor

__all__ = ['TemporalDistillSegmentor', 'EMASmoothedSegmentor',
           'MotionConsistencySegmentor']
