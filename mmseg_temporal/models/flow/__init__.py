"""Optical-flow estimators (``nn.Module``: images -> flow, one interface)
and correlation.

The warp lives in :mod:`mmseg_temporal.utils.flow_ops` and the file-keyed
flow sources (cache, synthetic exact flow, estimator adapter,
forward-backward check) in :mod:`mmseg_temporal.flow_sources`.
"""
from .base import BaseFlowEstimator
from .correlation import Correlation, correlation
from .dis_flow import DISFlow
from .flownet2 import FlowNet2, load_flownet2_state_dict, read_state_dict
from .visualization import flow_to_color, make_color_wheel

__all__ = [
    'BaseFlowEstimator', 'Correlation', 'correlation', 'DISFlow', 'FlowNet2',
    'load_flownet2_state_dict', 'read_state_dict', 'flow_to_color',
    'make_color_wheel'
]
