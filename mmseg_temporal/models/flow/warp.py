"""Compatibility path: the warp lives in :mod:`mmseg_temporal.utils.flow_ops`
(the one home of ``flow_warp``, ``occlusion_mask``, ``flow_to_grid`` and
``forward_backward_valid``); import it from there."""
from ...utils.flow_ops import flow_to_grid, flow_warp, forward_backward_valid, occlusion_mask  # noqa: F401

__all__ = ['flow_warp', 'flow_to_grid', 'occlusion_mask',
           'forward_backward_valid']
