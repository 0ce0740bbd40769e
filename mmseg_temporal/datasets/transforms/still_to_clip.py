"""Clips made of one labelled frame: the temporal terms (TL, PF, MF) train on
any image dataset, or on a mix of such clips and real triplets."""
from typing import List, Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ...flow.camera_motion import (
    clip_flows,
    move_frame,
    random_sensor_nuisance,
    sample_camera_motion,
)

__all__ = ['StillToClip']

_GEOMETRY = dict(shift=6.0, rotation=1.0, zoom=0.03, shear=1.0)
_NUISANCE = dict(noise_std=2.0, gain=0.02, jpeg_quality=90)


@TRANSFORMS.register_module()
class StillToClip(BaseTransform):
    """A clip of one labelled frame under independent random camera motions.

    Every frame of the clip but the labelled one is the labelled frame moved
    by its own random motion (:mod:`mmseg_temporal.flow.camera_motion`);
    the flows between consecutive frames are exact, and every frame gets its
    own sensor nuisance (the labelled one too; its label stays exact). The
    result has the keys of a real triplet after ``LoadVideoFrames``,
    ``LoadVideoAnnotations`` and ``LoadFlow``, so the video transforms
    (``VideoResize``, ``VideoRandomCrop``, ``VideoRandomFlip``,
    ``VideoPhotoMetricDistortion``) and ``PackVideoSegInputs`` follow
    unchanged. Motion magnitudes are pixels of the frame as it is here: put
    it before the resize (right after loading).

    Two uses:

    * an image dataset (``LoadImageFromFile``, ``LoadAnnotations``): every
      frame becomes a clip of ``num_frames`` frames, the labelled one at
      ``label_index``;
    * a video dataset's triplets (after ``LoadVideoFrames``,
      ``LoadVideoAnnotations``, ``LoadFlow``): with probability ``prob`` a
      triplet is replaced by a clip of its labelled frame (same length and
      label position), else it passes through: synthetic clips mixed with
      real triplets at the ratio ``prob``.

    Required keys: ``img`` and ``gt_seg_map`` (a frame), or ``imgs``,
    ``label_index``, ``gt_seg_map`` (a clip). Modified / added keys:
    ``imgs``, ``img_paths`` (the frame's path, once per frame),
    ``label_index``, ``flows`` ``(T-1, H, W, 2)`` (``flows[i]`` from frame i
    to i+1), ``flow_valid`` ``(T-1, H, W)`` (pixels leaving the frame are
    False), ``gt_seg_map_frames`` (moved labels, only where the sample had
    it), ``still_clip`` (True for a made clip); ``img`` is removed.

    Args:
        num_frames, label_index: the clip made of a single frame.
        motion: magnitudes of each frame's random motion (see
            :func:`~mmseg_temporal.flow.camera_motion.sample_camera_motion`):
            ``shift`` pixels, ``rotation`` degrees, ``zoom`` fraction,
            ``shear`` degrees (defaults 6, 1, 0.03, 1: the pilot of issue
            23 at 360x480).
        nuisance: per frame ``noise_std`` (grey levels), ``gain`` (factor in
            ``1 +- gain``), ``jpeg_quality`` (0: none); defaults 2, 0.02, 90.
        prob: probability that a real clip is replaced (single frames always
            become clips).
        padding_mode: what enters a moved frame (``'border'``, ``'zeros'``).
        ignore_index: label of out-of-frame pixels in moved labels.
    """

    def __init__(self, num_frames: int = 3, label_index: int = 1,
                 motion: Optional[dict] = None, nuisance: Optional[dict] = None,
                 prob: float = 1.0, padding_mode: str = 'border',
                 ignore_index: int = 255) -> None:
        if num_frames < 2 or not 0 <= label_index < num_frames:
            raise ValueError('StillToClip: need num_frames >= 2 and 0 <= '
                             f'label_index < num_frames, got {num_frames}, '
                             f'{label_index}')
        if not 0 <= prob <= 1:
            raise ValueError(f'StillToClip: prob must be in [0, 1], got {prob}')
        for name, given, known in (('motion', motion, _GEOMETRY),
                                   ('nuisance', nuisance, _NUISANCE)):
            unknown = sorted(set(given or {}) - set(known))
            if unknown:
                raise ValueError(f'StillToClip: unknown {name} key(s) {unknown}; '
                                 f'known: {sorted(known)}')
        self.num_frames, self.label_index = num_frames, label_index
        self.motion = dict(_GEOMETRY, **(motion or {}))
        self.nuisance = dict(_NUISANCE, **(nuisance or {}))
        self.prob, self.padding_mode = prob, padding_mode
        self.ignore_index = ignore_index
        rng = np.random.default_rng(0)  # check the magnitudes now
        sample_camera_motion(rng, **self.motion)
        random_sensor_nuisance(np.zeros((1, 1, 3)), rng, **self.nuisance)

    def _frame(self, results: dict):
        """``(labelled frame, num_frames, label_index)``, or None for a real
        clip that passes through."""
        if 'imgs' in results:
            if np.random.rand() >= self.prob:
                return None
            idx = results.get('label_index', 0)
            return results['imgs'][idx], len(results['imgs']), idx
        if 'img' not in results:
            raise KeyError('StillToClip needs a frame (img, from '
                           'LoadImageFromFile) or a clip (imgs, from '
                           f'LoadVideoFrames); got keys {sorted(results)}')
        return results['img'], self.num_frames, self.label_index

    def _finish(self, img: np.ndarray) -> np.ndarray:
        """A frame as a sensor would give it: its own nuisance, uint8."""
        if any(self.nuisance.values()):
            return random_sensor_nuisance(img, np.random, bgr=True,
                                          **self.nuisance)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)

    def transform(self, results: dict) -> dict:
        found = self._frame(results)
        if found is None:
            results['still_clip'] = False
            return results
        img, num_frames, label_index = found
        if 'gt_seg_map' not in results:
            raise KeyError('StillToClip needs the labelled frame\'s gt_seg_map '
                           f'(load the label first) for {results.get("img_path")}')
        h, w = img.shape[:2]
        matrices = [np.eye(3) if i == label_index else sample_camera_motion(
            np.random, **self.motion).matrix((h, w)) for i in range(num_frames)]
        frame = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
        frame = frame[None].float()
        label = torch.from_numpy(results['gt_seg_map'].astype(np.int64))[None, None]
        moved = [move_frame(frame, m, label, self.ignore_index, self.padding_mode)
                 for m in matrices]
        results['imgs'] = [self._finish(mv.img[0].permute(1, 2, 0).numpy())
                           for mv in moved]
        flows, valid = clip_flows(matrices, (h, w))
        results['flows'] = np.ascontiguousarray(
            flows.permute(0, 2, 3, 1).numpy().astype(np.float32))
        results['flow_valid'] = valid[:, 0].numpy()
        if 'gt_seg_map_frames' in results:
            results['gt_seg_map_frames'] = np.stack([
                mv.label[0, 0].numpy().astype(results['gt_seg_map'].dtype)
                for mv in moved])
        results.pop('img', None)
        results['img_paths'] = self._paths(results, num_frames)
        results['label_index'] = label_index
        results['still_clip'] = True
        return results

    @staticmethod
    def _paths(results: dict, num_frames: int) -> List[str]:
        path = results.get('img_path')
        if path is None and results.get('img_paths'):
            path = results['img_paths'][results.get('label_index', 0)]
        return [path] * num_frames

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_frames={self.num_frames}, '
                f'label_index={self.label_index}, motion={self.motion}, '
                f'nuisance={self.nuisance}, prob={self.prob})')
