"""Optical-flow estimators (``nn.Module``: images -> flow, one interface),
registered in ``MODELS``, and FlowNet2's correlation."""
from .base import BaseFlowEstimator
from .correlation import Correlation, correlation
from .dis_flow import DISFlow
from .flownet2 import FlowNet2, load_flownet2_state_dict, read_state_dict

__all__ = [
    'BaseFlowEstimator', 'Correlation', 'correlation', 'DISFlow', 'FlowNet2',
    'load_flownet2_state_dict', 'read_state_dict'
]
