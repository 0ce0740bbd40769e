"""Metric computations as plain functions (no registry, no MMEngine state)."""
from .temporal_consistency import (tc_aggregate, tc_intersect_union,
                                   temporal_consistency)

__all__ = ['tc_intersect_union', 'tc_aggregate', 'temporal_consistency']
