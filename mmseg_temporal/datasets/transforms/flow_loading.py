"""LoadFlow: the flows between consecutive frames of a sample, from any
flow source (cache, synthetic exact flow, estimator, forward-backward
checked)."""
from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ...flow.sources.base import build_flow_source

__all__ = ['LoadFlow', 'LoadPrecomputedFlow', 'LoadSyntheticFlow',
           'flow_cache_config']

# Keys the video geometric transforms set: their presence means the frames
# no longer have the resolution/orientation of the frame files.
_GEOMETRIC_KEYS = ('scale_factor', 'crop_bbox', 'flip')


@TRANSFORMS.register_module()
class LoadFlow(BaseTransform):
    """Flows between consecutive frames of a multi-frame sample, from a flow
    source (:mod:`mmseg_temporal.flow.sources`), so no flow network runs in
    the training step.

    Put it right after :class:`LoadVideoFrames` (before any geometric
    transform: sources give flows at the frame files' resolution, and the
    video transforms then resize/crop/flip them with the frames).

    Required keys: ``img_paths``, ``imgs`` (BGR, as ``LoadVideoFrames``).

    Added keys: ``flows`` ``(T-1, H, W, 2)`` float32 (``flows[i]`` from frame
    i to frame i+1, x then y, pixels) and ``flow_valid`` ``(T-1, H, W)``
    bool: the source's mask (the synthetic video's visibility, the
    forward-backward check), all True where the source gives none (the
    temporal loss's occlusion mask then takes care of occlusions).
    ``PackVideoSegInputs`` packs them as the data samples' ``flows`` and
    ``flow_valid``, which the segmentor reads.

    Args:
        source: a flow source config or callable (any that
            :func:`~mmseg_temporal.flow.sources.build_flow_source` takes), e.g.
            ``dict(type='PrecomputedFlow', cache_dir=..., data_root=...)``,
            ``dict(type='SyntheticExactFlow')``,
            ``dict(type='ForwardBackwardChecked', source=dict(...))``.
    """

    def __init__(self, source: Union[dict, Callable]) -> None:
        self.source_cfg = source
        self.source = build_flow_source(source)

    def _check_untransformed(self, results: dict) -> None:
        imgs = results['imgs']
        done = [k for k in _GEOMETRIC_KEYS if k in results]
        if done or tuple(imgs[0].shape[:2]) != tuple(
                results.get('ori_shape', imgs[0].shape[:2])):
            # Reading here would serve flows that do not match the frames
            # (and on_missing='compute' would overwrite valid entries).
            raise ValueError(
                f'{type(self).__name__} must come before the geometric '
                f'transforms (right after LoadVideoFrames): the frames of '
                f'sample {results.get("img_path")} were already transformed '
                f'({done or "resized"})')

    def transform(self, results: dict) -> dict:
        paths, imgs = results.get('img_paths'), results.get('imgs')
        if not paths or imgs is None:
            raise KeyError(f'{type(self).__name__} needs a multi-frame sample '
                           'loaded by LoadVideoFrames (img_paths, imgs); got '
                           f'keys {sorted(results)}')
        self._check_untransformed(results)
        flows, valid = [], []
        for a in range(len(paths) - 1):
            # Sources take RGB frames; LoadVideoFrames gives BGR.
            flow, mask = self.source(paths[a], paths[a + 1],
                                     imgs[a][..., ::-1], imgs[a + 1][..., ::-1])
            flows.append(flow.transpose(1, 2, 0))
            valid.append(np.ones(flow.shape[1:], bool) if mask is None
                         else mask)
        results['flows'] = np.stack(flows).astype(np.float32)
        results['flow_valid'] = np.stack(valid)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(source={self.source!r})'


@TRANSFORMS.register_module()
class LoadPrecomputedFlow(LoadFlow):
    """``LoadFlow(source=dict(type='PrecomputedFlow', ...))``: flows from a
    cache made by ``tools/precompute_flow.py`` (the arguments are
    :class:`~mmseg_temporal.flow.sources.PrecomputedFlow`'s)."""

    def __init__(self, cache_dir: str, data_root: Optional[str] = None,
                 on_missing: str = 'error',
                 estimator: Optional[dict] = None) -> None:
        super().__init__(dict(type='PrecomputedFlow', cache_dir=cache_dir,
                              data_root=data_root, on_missing=on_missing,
                              estimator=estimator))


@TRANSFORMS.register_module()
class LoadSyntheticFlow(LoadFlow):
    """``LoadFlow(source=dict(type='SyntheticExactFlow'))``: the synthetic
    video's exact flow, with ``flow_valid`` = the pixel is visible in the
    next frame."""

    def __init__(self) -> None:
        super().__init__(dict(type='SyntheticExactFlow'))


def flow_cache_config(pipeline: Sequence[dict]) -> Tuple[Optional[dict], bool]:
    """The flow cache a training pipeline reads, for precomputing it.

    Returns:
        ``(cache_cfg, both_directions)``: the ``PrecomputedFlow`` arguments
        (``cache_dir``, ``data_root``, ...) of the pipeline's
        ``LoadPrecomputedFlow`` or ``LoadFlow`` step (``None`` when it has
        none), and whether the cache is read both ways (wrapped in
        ``ForwardBackwardChecked``, which also needs the reverse pairs).
    """
    for step in pipeline:
        kind = step.get('type')
        if kind == 'LoadPrecomputedFlow':
            return {k: v for k, v in step.items() if k != 'type'}, False
        if kind != 'LoadFlow' or not isinstance(step.get('source'), dict):
            continue
        source, both = step['source'], False
        while source.get('type') == 'ForwardBackwardChecked':
            source, both = source['source'], True
        if source.get('type') == 'PrecomputedFlow':
            return {k: v for k, v in source.items() if k != 'type'}, both
    return None, False
