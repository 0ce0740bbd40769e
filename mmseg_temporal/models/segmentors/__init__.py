"""Segmentors: the temporal distillation wrapper of a per-frame student, the
motion-consistency test-time wrapper, the student config of a training
config (the EMA-smoothed wrapper lives in ``inference/``)."""
from .motion_consistency import MotionConsistencySegmentor
from .student_config import student_model_config
from .temporal_distill import TemporalDistillSegmentor

__all__ = ['TemporalDistillSegmentor', 'MotionConsistencySegmentor',
           'student_model_config']
