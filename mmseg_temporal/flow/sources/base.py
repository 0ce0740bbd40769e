"""The one call of every flow source, and how a config becomes one.

A *flow source* serves the flow of a pair of frames given by their files::

    flow, valid = source(path_a, path_b, img_a=None, img_b=None)

* ``path_a``, ``path_b``: the frames' image files (what a cache is keyed by
  and what the synthetic video's exact flow is read beside);
* ``img_a``, ``img_b``: optional ``(H, W, 3)`` uint8 RGB arrays of the
  frames (sources that need pixels read the files when they are ``None``);
* ``flow``: ``(2, H, W)`` float32, from frame a to frame b, channel 0
  horizontal, pixels;
* ``valid``: ``(H, W)`` bool, the pixels of frame a whose flow is known to
  be right (visible in frame b, consistent both ways), or ``None`` when the
  source knows nothing about that.

A source whose flow does not depend on the pixels (exact flow read from
files, a pure cache read) says so with ``needs_pixels = False``; callers
that would read the frames only for it then skip reading them
(:func:`needs_pixels`, default True).

Sources are registered in ``mmseg.registry.TASK_UTILS`` (where MMSeg keeps
its non-module helpers). :func:`build_flow_source` also accepts an
estimator config (a ``MODELS`` module such as ``DISFlow``) and wraps it in
:class:`EstimatorFlow`, and any callable of the call above.
"""
from typing import Callable, Optional, Tuple, Union

import numpy as np
import torch
from mmseg.registry import MODELS, TASK_UTILS

__all__ = ['FlowResult', 'as_flow_result', 'build_flow_source',
           'CallableFlowSource', 'needs_pixels']

FlowResult = Tuple[np.ndarray, Optional[np.ndarray]]


def _as_array(x, name: str, ndim: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != ndim:
        raise ValueError(f'flow source returned a {name} of shape {x.shape}, '
                         f'expected {ndim} dimensions')
    return x


def as_flow_result(out, source: object = None) -> FlowResult:
    """Normalises what a flow callable returns to ``(flow, valid)``: an
    array (or tensor) alone becomes ``(flow, None)``; the flow is float32
    ``(2, H, W)`` and the mask bool ``(H, W)``."""
    flow, valid = out if isinstance(out, tuple) else (out, None)
    flow = _as_array(flow, 'flow', 3).astype(np.float32, copy=False)
    if flow.shape[0] != 2:
        raise ValueError(f'flow source {source!r} returned a flow of shape '
                         f'{flow.shape}, expected (2, H, W)')
    if valid is not None:
        valid = _as_array(valid, 'valid mask', 2).astype(bool, copy=False)
        if valid.shape != flow.shape[1:]:
            raise ValueError(f'flow source {source!r} returned a valid mask of '
                             f'shape {valid.shape} for a flow of shape '
                             f'{flow.shape}')
    return flow, valid


def needs_pixels(source: object) -> bool:
    """Whether ``source`` uses ``img_a`` / ``img_b`` (True unless it says
    ``needs_pixels = False``)."""
    return bool(getattr(source, 'needs_pixels', True))


class CallableFlowSource:
    """Adapter giving any callable ``fn(path_a, path_b, img_a, img_b)`` that
    returns a flow array (or ``(flow, valid)``) the one call of a source."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    @property
    def needs_pixels(self) -> bool:
        """The callable's own ``needs_pixels`` (default True)."""
        return needs_pixels(self.fn)

    def __call__(self, path_a: str, path_b: str,
                 img_a: Optional[np.ndarray] = None,
                 img_b: Optional[np.ndarray] = None) -> FlowResult:
        return as_flow_result(self.fn(path_a, path_b, img_a, img_b), self.fn)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.fn!r})'


def _is_registered_source(obj: object) -> bool:
    return any(type(obj) is cls for cls in TASK_UTILS.module_dict.values())


def build_flow_source(cfg: Union[dict, Callable]) -> Callable[..., FlowResult]:
    """A flow source from a config dict or a callable.

    * ``dict(type=<TASK_UTILS source>, ...)``: built from ``TASK_UTILS``
      (``PrecomputedFlow``, ``SyntheticExactFlow``, ``EstimatorFlow``,
      ``ForwardBackwardChecked``);
    * ``dict(type=<MODELS estimator>, ...)`` (``DISFlow``, ``FlowNet2``):
      ``EstimatorFlow(estimator=cfg)``;
    * a built estimator (``nn.Module``): wrapped in ``EstimatorFlow``;
    * a built source: returned as is; any other callable: wrapped in
      :class:`CallableFlowSource` (an array return becomes
      ``(array, None)``).

    Raises:
        TypeError: ``cfg`` is neither a dict nor a callable.
        KeyError: the ``type`` is in neither registry (the message names it).
    """
    if isinstance(cfg, dict):
        cfg = dict(cfg)
        kind = cfg.get('type')
        if kind is None:
            raise KeyError(f'flow source config {cfg} has no `type`')
        if not isinstance(kind, str) or TASK_UTILS.get(kind) is not None:
            return TASK_UTILS.build(cfg)
        cls = MODELS.get(kind)
        if cls is not None:
            return TASK_UTILS.build(dict(type='EstimatorFlow', estimator=cfg))
        raise KeyError(f'flow source type {kind!r} is neither a flow source '
                       '(mmseg.registry.TASK_UTILS: PrecomputedFlow, '
                       'SyntheticExactFlow, EstimatorFlow, '
                       'ForwardBackwardChecked) nor an estimator '
                       '(mmseg.registry.MODELS: DISFlow, FlowNet2)')
    if isinstance(cfg, torch.nn.Module):  # a built estimator
        return TASK_UTILS.build(dict(type='EstimatorFlow', estimator=cfg))
    if callable(cfg):
        if _is_registered_source(cfg) or isinstance(cfg, CallableFlowSource):
            return cfg
        return CallableFlowSource(cfg)
    raise TypeError('a flow source must be a config dict or a callable, got '
                    f'{type(cfg).__name__}')
