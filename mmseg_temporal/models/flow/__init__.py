"""Optical flow: estimators (one interface), correlation, warping."""
from .base import BaseFlowEstimator, flow_of_images
from .correlation import Correlation, correlation
from .dis_flow import DISFlow
from .flownet2 import (CheckpointMismatchError, FlowNet2,
                       load_flownet2_state_dict, read_state_dict)
from .flow_cache import FlowCache, FlowCacheError
from .precomputed_flow import PrecomputedFlow
from .synthetic_exact_flow import SyntheticExactFlow
from .visualization import flow_to_color, make_color_wheel
from .warp import flow_to_grid, flow_warp, occlusion_mask

__all__ = [
    'flow_warp', 'flow_to_grid', 'occlusion_mask', 'BaseFlowEstimator',
    'flow_of_images',
    'Correlation', 'correlation', 'DISFlow', 'FlowNet2',
    'load_flownet2_state_dict', 'read_state_dict', 'CheckpointMismatchError',
    'flow_to_color', 'make_color_wheel', 'FlowCache', 'FlowCacheError',
    'PrecomputedFlow', 'SyntheticExactFlow'
]
