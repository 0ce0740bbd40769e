"""Photometric distortion of multi-frame samples: one draw for all frames."""
from typing import Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

__all__ = ['VideoPhotoMetricDistortion']


@TRANSFORMS.register_module()
class VideoPhotoMetricDistortion(BaseTransform):
    """MMSeg's ``PhotoMetricDistortion`` with one random draw per sample.

    Brightness, contrast (before or after the colour changes), saturation
    and hue are each applied with probability 0.5; the same draw to every
    frame, so that the frames stay consistent with each other (brightness
    constancy between frames is what flow and the occlusion mask rely on).
    Frames are BGR uint8.
    """

    def __init__(self,
                 brightness_delta: int = 32,
                 contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5),
                 hue_delta: int = 18) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def _draw(self) -> dict:
        r = np.random
        return dict(
            brightness=(r.uniform(-self.brightness_delta, self.brightness_delta)
                        if r.randint(2) else None),
            contrast_first=bool(r.randint(2)),
            contrast=(r.uniform(self.contrast_lower, self.contrast_upper)
                      if r.randint(2) else None),
            saturation=(r.uniform(self.saturation_lower, self.saturation_upper)
                        if r.randint(2) else None),
            hue=(r.randint(-self.hue_delta, self.hue_delta)
                 if r.randint(2) else None))

    @staticmethod
    def _apply(img: np.ndarray, d: dict) -> np.ndarray:
        img = img.astype(np.float32)
        if d['brightness'] is not None:
            img = img + d['brightness']
        if d['contrast_first'] and d['contrast'] is not None:
            img = img * d['contrast']
        img = np.clip(img, 0, 255).astype(np.uint8)
        if d['saturation'] is not None or d['hue'] is not None:
            hsv = mmcv.bgr2hsv(img).astype(np.float32)
            if d['saturation'] is not None:
                hsv[..., 1] = np.clip(hsv[..., 1] * d['saturation'], 0, 255)
            if d['hue'] is not None:
                hsv[..., 0] = (hsv[..., 0].astype(int) + d['hue']) % 180
            img = mmcv.hsv2bgr(hsv.astype(np.uint8))
        if not d['contrast_first'] and d['contrast'] is not None:
            img = np.clip(img.astype(np.float32) * d['contrast'], 0,
                          255).astype(np.uint8)
        return img

    def transform(self, results: dict) -> dict:
        d = self._draw()
        results['imgs'] = [self._apply(im, d) for im in results['imgs']]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness_delta={self.brightness_delta}'
                f', contrast=({self.contrast_lower}, {self.contrast_upper}), '
                f'saturation=({self.saturation_lower}, {self.saturation_upper})'
                f', hue_delta={self.hue_delta})')
