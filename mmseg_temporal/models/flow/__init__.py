"""Optical flow: estimators (one interface), correlation, warping."""
from .warp import flow_to_grid, flow_warp, occlusion_mask

__all__ = ['flow_warp', 'flow_to_grid', 'occlusion_mask']
