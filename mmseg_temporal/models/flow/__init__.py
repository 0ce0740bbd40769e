"""Optical-flow estimators (``nn.Module``: images -> flow, one interface)
and correlation.

The warp lives in :mod:`mmseg_temporal.utils.flow_ops` and the file-keyed
flow sources (cache, synthetic exact flow, estimator adapter,
forward-backward check) in :mod:`mmseg_temporal.flow_sources`; their names
are re-exported here so that older imports keep working.
"""
from ...flow_sources import (
    FlowCache,
    FlowCacheError,
    PrecomputedFlow,
    SyntheticExactFlow,
    flow_of_images,
)
from ...utils.flow_ops import flow_to_grid, flow_warp, forward_backward_valid, occlusion_mask
from .base import BaseFlowEstimator
from .correlation import Correlation, correlation
from .dis_flow import DISFlow
from .flownet2 import CheckpointMismatchError, FlowNet2, load_flownet2_state_dict, read_state_dict
from .visualization import flow_to_color, make_color_wheel

__all__ = [
    'flow_warp', 'flow_to_grid', 'occlusion_mask', 'forward_backward_valid',
    'BaseFlowEstimator', 'flow_of_images',
    'Correlation', 'correlation', 'DISFlow', 'FlowNet2',
    'load_flownet2_state_dict', 'read_state_dict', 'CheckpointMismatchError',
    'flow_to_color', 'make_color_wheel', 'FlowCache', 'FlowCacheError',
    'PrecomputedFlow', 'SyntheticExactFlow'
]
