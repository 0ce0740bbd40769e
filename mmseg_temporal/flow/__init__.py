"""Optical flow in one package, just above ``utils``: estimators
(``nn.Module``, images -> flow), file-keyed flow sources (cache, estimator
adapter, forward-backward check; registered in ``TASK_UTILS``), the one warp
and forward-backward check (:mod:`.ops`), a known camera motion of a frame
(:mod:`.camera_motion`: moved frame, exact flow, sensor nuisance) and the
flow colour coding. Datasets, models, evaluation and inference use it; it
imports none of them (the synthetic video's exact flow lives with its
dataset, ``datasets/synthetic_flow.py``)."""
from . import estimators, sources  # noqa: F401  (registers the modules)
from .ops import flow_warp, forward_backward_valid, occlusion_mask
from .sources import EstimatorFlow, build_flow_source, flow_of_images
from .visualization import flow_to_color, make_color_wheel

__all__ = ['flow_warp', 'forward_backward_valid', 'occlusion_mask',
           'build_flow_source', 'EstimatorFlow', 'flow_of_images',
           'flow_to_color', 'make_color_wheel']
