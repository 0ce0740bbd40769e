"""LoadPrecomputedFlow: serves flows from a flow cache during training."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ...models.flow.precomputed_flow import PrecomputedFlow

__all__ = ['LoadPrecomputedFlow']


@TRANSFORMS.register_module()
class LoadPrecomputedFlow(BaseTransform):
    """Reads the flows between consecutive frames of a sample from a cache
    made by ``tools/precompute_flow.py``, so no flow network runs in training.

    Put it right after :class:`LoadVideoFrames` (before any geometric
    transform: the cache holds flows at the frames' file resolution, and the
    video transforms then resize/crop/flip them with the frames).

    Adds ``flows`` ``(T-1, H, W, 2)`` float32 and ``flow_valid``
    ``(T-1, H, W)`` (all True: estimated flow has no visibility information;
    the temporal loss's occlusion mask takes care of occlusions).

    Args:
        cache_dir: the cache folder.
        data_root: the dataset's ``data_root`` (cache keys are relative to it).
        on_missing: ``'error'`` (default: a missing or corrupt entry raises
            an error naming the pair) or ``'compute'`` (compute it with
            ``estimator`` and store it).
        estimator: flow estimator config for ``on_missing='compute'``,
            e.g. ``dict(type='DISFlow')``.
    """

    def __init__(self, cache_dir: str, data_root: Optional[str] = None,
                 on_missing: str = 'error',
                 estimator: Optional[dict] = None) -> None:
        self.source = PrecomputedFlow(cache_dir, data_root, on_missing,
                                      estimator)

    # Keys the video geometric transforms set: their presence means the
    # frames no longer have the resolution/orientation of the cached flows.
    _GEOMETRIC_KEYS = ('scale_factor', 'crop_bbox', 'flip')

    def transform(self, results: dict) -> dict:
        paths, imgs = results['img_paths'], results['imgs']
        done = [k for k in self._GEOMETRIC_KEYS if k in results]
        if done or tuple(imgs[0].shape[:2]) != tuple(
                results.get('ori_shape', imgs[0].shape[:2])):
            # Reading here would serve flows that do not match the frames
            # (and on_missing='compute' would overwrite valid entries).
            raise ValueError(
                f'{type(self).__name__} must come before the geometric '
                f'transforms (right after LoadVideoFrames): the frames of '
                f'sample {results.get("img_path")} were already transformed '
                f'({done or "resized"})')
        flows = []
        for a in range(len(paths) - 1):
            # The cache holds flows of RGB frames; LoadVideoFrames gives BGR.
            flow = self.source(paths[a], paths[a + 1], imgs[a][..., ::-1],
                               imgs[a + 1][..., ::-1])
            flows.append(flow.transpose(1, 2, 0))
        results['flows'] = np.stack(flows).astype(np.float32)
        results['flow_valid'] = np.ones(results['flows'].shape[:3], bool)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cache_dir='
                f'{self.source.cache.cache_dir!r}, '
                f'on_missing={self.source.on_missing!r})')
