"""Flow sources: the flow of a frame pair given by its files, one call.

``flow, valid = source(path_a, path_b, img_a=None, img_b=None)`` (see
:mod:`.base`); sources are registered in ``mmseg.registry.TASK_UTILS`` and
built with :func:`build_flow_source` (estimators through ``MODELS``, by
name).
"""
from .base import CallableFlowSource, FlowResult, as_flow_result, build_flow_source
from .estimator import EstimatorFlow, flow_of_images
from .flow_cache import FlowCache, FlowCacheError
from .forward_backward import ForwardBackwardChecked
from .precomputed import PrecomputedFlow, image_size

__all__ = [
    'FlowResult', 'as_flow_result', 'build_flow_source', 'CallableFlowSource',
    'EstimatorFlow', 'flow_of_images', 'FlowCache', 'FlowCacheError',
    'ForwardBackwardChecked', 'PrecomputedFlow', 'image_size'
]
