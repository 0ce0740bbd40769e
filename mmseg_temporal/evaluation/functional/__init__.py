"""Metric computations as plain functions (no registry, no MMEngine state)."""
from .class_sets import classes_in, predicted_union, shared_class_means
from .flicker_profile import flicker_pair_counts, flicker_profile
from .motion_consistency import mc_intersect_union, motion_consistency
from .temporal_consistency import (
    predicted_class_mean,
    tc_aggregate,
    tc_intersect_union,
    temporal_consistency,
)
from .video_consistency import vc_windows, video_consistency

__all__ = ['tc_intersect_union', 'tc_aggregate', 'temporal_consistency',
           'predicted_class_mean', 'shared_class_means', 'predicted_union', 'classes_in',
           'vc_windows', 'video_consistency', 'flicker_pair_counts',
           'flicker_profile', 'mc_intersect_union', 'motion_consistency']
