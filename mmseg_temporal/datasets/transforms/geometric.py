"""Geometric transforms of multi-frame samples: one draw for all frames.

Every transform changes, consistently: the frames ``imgs``, every key of
``seg_fields`` (label maps, ``(H, W)`` or ``(T, H, W)``, nearest), and the
flows ``flows`` ``(T-1, H, W, 2)`` with ``flow_valid`` ``(T-1, H, W)``:
flow values are rescaled by a resize and negated (x) by a horizontal flip,
so that warping stays exact.
"""
from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

__all__ = ['VideoResize', 'VideoRandomCrop', 'VideoRandomFlip']


def _map_seg_fields(results: dict, fn) -> None:
    for key in results.get('seg_fields', []):
        seg = results[key]
        results[key] = (np.stack([fn(s) for s in seg]) if seg.ndim == 3
                        else fn(seg))


@TRANSFORMS.register_module()
class VideoResize(BaseTransform):
    """Resizes all frames of a sample with one scale.

    Args:
        scale: target ``(w, h)``; with ``keep_ratio`` the image is rescaled
            to fit in it, as ``mmcv.imrescale``. Or None with ``scale_factor``.
        scale_factor: a float factor instead of ``scale``.
        ratio_range: ``(min, max)``: multiply ``scale`` (or ``scale_factor``)
            by a ratio drawn uniformly once per sample (random resize).
        keep_ratio: keep the aspect ratio.
        interpolation: for the frames; labels and flows use nearest.
    """

    def __init__(self,
                 scale: Optional[Sequence[int]] = None,
                 scale_factor: Optional[float] = None,
                 ratio_range: Optional[Tuple[float, float]] = None,
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear') -> None:
        if (scale is None) == (scale_factor is None):
            raise ValueError('VideoResize: give exactly one of scale and '
                             f'scale_factor (got {scale}, {scale_factor})')
        self.scale = tuple(scale) if scale is not None else None
        self.scale_factor = scale_factor
        self.ratio_range = ratio_range
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def _target_size(self, h: int, w: int) -> Tuple[int, int]:
        ratio = (np.random.uniform(*self.ratio_range)
                 if self.ratio_range is not None else 1.0)
        if self.scale is None:
            f = self.scale_factor * ratio
            return int(w * f + 0.5), int(h * f + 0.5)
        sw, sh = self.scale[0] * ratio, self.scale[1] * ratio
        if not self.keep_ratio:
            return int(sw + 0.5), int(sh + 0.5)
        f = min(max(sw, sh) / max(h, w), min(sw, sh) / min(h, w))
        return int(w * f + 0.5), int(h * f + 0.5)

    def transform(self, results: dict) -> dict:
        h, w = results['imgs'][0].shape[:2]
        nw, nh = self._target_size(h, w)
        results['imgs'] = [mmcv.imresize(im, (nw, nh),
                                         interpolation=self.interpolation)
                           for im in results['imgs']]
        _map_seg_fields(results, lambda s: mmcv.imresize(
            s, (nw, nh), interpolation='nearest'))
        sx, sy = nw / w, nh / h
        if 'flows' in results:
            fl = np.stack([mmcv.imresize(f, (nw, nh), interpolation='nearest')
                           for f in results['flows']]).astype(np.float32)
            fl[..., 0] *= sx
            fl[..., 1] *= sy
            results['flows'] = fl
            results['flow_valid'] = np.stack([
                mmcv.imresize(v.astype(np.uint8), (nw, nh),
                              interpolation='nearest').astype(bool)
                for v in results['flow_valid']])
        results['img_shape'] = (nh, nw)
        old = results.get('scale_factor', (1.0, 1.0))
        results['scale_factor'] = (old[0] * sx, old[1] * sy)
        results['keep_ratio'] = self.keep_ratio
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, scale_factor='
                f'{self.scale_factor}, ratio_range={self.ratio_range}, '
                f'keep_ratio={self.keep_ratio})')


@TRANSFORMS.register_module()
class VideoRandomCrop(BaseTransform):
    """Crops all frames of a sample at one random position.

    Like MMSeg's ``RandomCrop``: a sample smaller than ``crop_size`` keeps
    its size on that side (padding happens in the data preprocessor), and
    ``cat_max_ratio`` retries (10 times) crops of the labelled frame where
    one class covers more than that share.

    Args:
        crop_size: ``(h, w)``.
        cat_max_ratio: largest share of one class in the crop.
        ignore_index: not counted by ``cat_max_ratio``.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]],
                 cat_max_ratio: float = 1.0, ignore_index: int = 255) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'crop_size must be (h, w) > 0, got {crop_size}')
        self.crop_size = tuple(crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def _bbox(self, h: int, w: int) -> Tuple[int, int, int, int]:
        y = np.random.randint(0, max(h - self.crop_size[0], 0) + 1)
        x = np.random.randint(0, max(w - self.crop_size[1], 0) + 1)
        return y, min(y + self.crop_size[0], h), x, min(x + self.crop_size[1], w)

    def transform(self, results: dict) -> dict:
        h, w = results['imgs'][0].shape[:2]
        box = self._bbox(h, w)
        if self.cat_max_ratio < 1.0 and 'gt_seg_map' in results:
            for _ in range(10):
                y1, y2, x1, x2 = box
                seg = results['gt_seg_map'][y1:y2, x1:x2]
                _, counts = np.unique(seg[seg != self.ignore_index],
                                      return_counts=True)
                if len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio:
                    break
                box = self._bbox(h, w)
        y1, y2, x1, x2 = box
        results['imgs'] = [im[y1:y2, x1:x2] for im in results['imgs']]
        _map_seg_fields(results, lambda s: s[y1:y2, x1:x2])
        if 'flows' in results:
            results['flows'] = np.ascontiguousarray(results['flows'][:, y1:y2, x1:x2])
            results['flow_valid'] = np.ascontiguousarray(
                results['flow_valid'][:, y1:y2, x1:x2])
        results['img_shape'] = (y2 - y1, x2 - x1)
        results['crop_bbox'] = (y1, y2, x1, x2)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio})')


@TRANSFORMS.register_module()
class VideoRandomFlip(BaseTransform):
    """Flips all frames of a sample horizontally with probability ``prob``
    (the x component of the flows changes sign)."""

    def __init__(self, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        results['flip'] = flip
        results['flip_direction'] = 'horizontal' if flip else None
        if not flip:
            return results
        results['imgs'] = [np.ascontiguousarray(im[:, ::-1]) for im in results['imgs']]
        _map_seg_fields(results, lambda s: np.ascontiguousarray(s[:, ::-1]))
        if 'flows' in results:
            fl = np.ascontiguousarray(results['flows'][:, :, ::-1])
            fl[..., 0] *= -1
            results['flows'] = fl
            results['flow_valid'] = np.ascontiguousarray(
                results['flow_valid'][:, :, ::-1])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
