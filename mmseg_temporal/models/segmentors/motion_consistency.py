"""The motion-consistency test wrapper: any per-frame segmentor predicts each
test frame and the same frame moved by known small camera motions, so
``MotionConsistencyMetric`` can score its flicker on any labelled dataset,
without video or a flow estimator (docs/evaluation.md)::

    model = dict(type='MotionConsistencySegmentor',
                 segmentor=<the model config of the checkpoint>,
                 motion=dict(shift=3, rotation=0.5, zoom=0.02))

The checkpoint of the wrapped model loads as it is (``segmentor.``
prefix); its prediction of the frame (``pred_sem_seg``) is unchanged, so
mIoU and TC score the model itself in the same test loop.
"""
import os.path as osp
import zlib
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from ...flow.camera_motion import (
    CameraMotion,
    motion_fields,
    move_frame,
    random_sensor_nuisance,
    sample_camera_motion,
)
from .test_time_wrapper import TestTimeWrapper

__all__ = ['MotionConsistencySegmentor']

_GEOMETRY = dict(shift=3.0, rotation=0.5, zoom=0.02, shear=0.0)
_NUISANCE = dict(noise_std=0.0, gain=0.0, jpeg_quality=0)
_AXES = ((1, 0), (-1, 0), (0, 1), (0, -1))

#: (name, motion, with sensor nuisance)
Plan = Tuple[str, CameraMotion, bool]


@MODELS.register_module()
class MotionConsistencySegmentor(TestTimeWrapper):
    """``segmentor`` that also predicts every frame moved by known camera
    motions and stores, in each data sample:

    * ``motion_preds`` ``(M, H, W)``: the predictions of the moved frames,
      at the resolution of ``pred_sem_seg``;
    * ``motion_flows`` ``(M, 2, H, W)``: the exact flow from the frame to
      each moved frame (pixels, channel 0 horizontal, docs/flow.md);
    * ``motion_valid`` ``(M, 1, H, W)``: the frame's pixels that land on
      real content of the moved frame (out-of-frame pixels are not);
    * metainfo ``motion_names``: ``'motion'`` (the random motion of
      ``motion``, with its sensor nuisance), then ``'shift<k>'`` per
      ``shifts`` (a pure shift of k pixels along a random axis direction,
      no nuisance): the curve over motion magnitude.

    Magnitudes are pixels at the scored resolution (the frame's
    ``ori_shape``, where MMSeg's predictions are); the frame's file is moved
    at that resolution and resized to the model's input like the test
    pipeline's ``Resize`` (a test pipeline of loading + resize is assumed;
    without ``img_path`` the input itself is moved). Each frame's
    motions are drawn from ``(seed, its img_path)``: the same in every run,
    batch order and process. The wrapped model must predict frames
    independently (not an ``EMASmoothedSegmentor``). It runs the model
    ``2 + len(shifts)`` times per frame.

    Args:
        segmentor: config of the per-frame model.
        motion: magnitudes of the random motion: ``shift`` (pixels, the
            radius of a uniform disc), ``rotation`` (degrees), ``zoom``
            (fraction), ``shear`` (degrees), each uniform in ``[-a, a]``;
            sensor nuisance of the moved frame: ``noise_std`` (grey levels),
            ``gain`` (a factor uniform in ``1 +- gain``), ``jpeg_quality``
            (0: none). Defaults: ``shift=3, rotation=0.5, zoom=0.02``, no
            shear, no nuisance.
        shifts: pure-shift magnitudes of the curve (pixels); ``()``: none.
        seed: seed of every draw.
        padding_mode: what enters the moved frame (``'border'`` or
            ``'zeros'``); never scored.
        data_preprocessor: default: the wrapped model's.
    """

    def __init__(self, segmentor: dict, motion: Optional[dict] = None,
                 shifts: Sequence[float] = (0.5, 1, 2, 3, 4, 8),
                 seed: int = 0, padding_mode: str = 'border',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(segmentor, data_preprocessor, init_cfg)
        motion = dict(motion or {})
        unknown = sorted(set(motion) - set(_GEOMETRY) - set(_NUISANCE))
        if unknown:
            raise ValueError(f'MotionConsistencySegmentor: unknown motion key(s) '
                             f'{unknown}; known: {sorted({**_GEOMETRY, **_NUISANCE})}')
        self.geometry = {k: float(motion.get(k, v)) for k, v in _GEOMETRY.items()}
        self.nuisance = {k: type(v)(motion.get(k, v)) for k, v in _NUISANCE.items()}
        self.shifts = tuple(float(k) for k in shifts)
        if any(not k > 0 for k in self.shifts):
            raise ValueError(f'MotionConsistencySegmentor: shifts must be > 0, '
                             f'got {list(shifts)}')
        if padding_mode not in ('border', 'zeros'):
            raise ValueError("MotionConsistencySegmentor: padding_mode must be "
                             f"'border' or 'zeros', got {padding_mode!r}")
        self.seed = int(seed)
        self.padding_mode = padding_mode
        # check the magnitudes now, not at the first test frame
        rng = np.random.default_rng(0)
        sample_camera_motion(rng, **self.geometry)
        random_sensor_nuisance(np.zeros((1, 1, 3)), rng, **self.nuisance)
        self._frames = 0  # frames seen, the key of frames without img_path

    def motion_names(self) -> List[str]:
        return ['motion'] + [f'shift{k:g}' for k in self.shifts]

    def _key(self, meta: dict) -> int:
        path = meta.get('img_path')
        if path is None:
            self._frames += 1
            return self._frames
        return zlib.crc32(str(path).encode())

    def motions(self, meta: dict, key: int) -> List[Plan]:
        """The motions of one frame (``ori_shape`` from ``meta``), drawn from
        ``(seed, key)``."""
        ref = tuple(int(v) for v in meta['ori_shape'][:2])
        rng = np.random.default_rng([self.seed, key, 0])
        plans = [('motion', sample_camera_motion(rng, **self.geometry,
                                                 ref_size=ref), True)]
        axes = np.random.default_rng([self.seed, key, 2])
        for name, k in zip(self.motion_names()[1:], self.shifts):
            dx, dy = _AXES[int(axes.uniform(0, len(_AXES)))]
            plans.append((name, CameraMotion(shift=(k * dx, k * dy),
                                              ref_size=ref), False))
        return plans

    def _sensor(self, x: Tensor, rng) -> Tensor:
        """The nuisance of a second exposure on a normalised ``(1, 3, h, w)``
        input, applied in pixels (RGB)."""
        dp = self.data_preprocessor
        norm = getattr(dp, '_enable_normalize', False)
        px = x * dp.std + dp.mean if norm else x
        rgb = px if getattr(dp, 'channel_conversion', False) else px.flip(1)
        arr = random_sensor_nuisance(rgb[0].permute(1, 2, 0).cpu().numpy(),
                                     rng, **self.nuisance)
        out = torch.from_numpy(arr).permute(2, 0, 1)[None].to(x)
        out = out if getattr(dp, 'channel_conversion', False) else out.flip(1)
        return (out - dp.mean) / dp.std if norm else out

    def _moved_at_file_size(self, meta: dict, motion: CameraMotion,
                            size: Tuple[int, int], x: Tensor) -> Optional[Tensor]:
        """The frame's file moved at its own resolution (``ori_shape``), then
        resized to the model's input ``size`` and normalised, as a test
        pipeline of loading + ``Resize`` gives the moved scene; ``None``
        when the input is not resized (then the input itself is moved).

        Moving the already resized input instead would resample it at
        sub-pixel offsets: a 1 px motion at 360x480 is half a pixel at a
        180x240 input, where bilinear resampling averages neighbours and
        blurs only the moved frame (on CamVid 15 Hz that bias made odd
        shifts at 360x480 score far below even ones for a plain student)."""
        import mmcv
        ori = tuple(int(v) for v in meta['ori_shape'][:2])
        path = meta.get('img_path')
        if path is None or ori == tuple(size):
            return None
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'MotionConsistencySegmentor: {path} (the frame, resized by the test '
                'pipeline) is needed to move it at its own resolution, and is missing')
        img = mmcv.imread(path)  # BGR uint8, as LoadImageFromFile reads it
        if img is None or img.shape[:2] != ori:
            raise ValueError(f'MotionConsistencySegmentor: {path} reads as '
                             f'{None if img is None else img.shape[:2]}, not its ori_shape {ori}')
        frame = torch.from_numpy(img).permute(2, 0, 1)[None].float()
        moved = move_frame(frame, motion.matrix(ori), padding_mode=self.padding_mode).img
        moved = moved[0].round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
        resized = mmcv.imresize(moved, (size[1], size[0]), interpolation='bilinear')
        out = torch.from_numpy(resized).permute(2, 0, 1).float()[None].to(x)
        dp = self.data_preprocessor
        if getattr(dp, 'channel_conversion', False):
            out = out.flip(1)
        return (out - dp.mean) / dp.std if getattr(dp, '_enable_normalize', False) else out

    def _move_input(self, x: Tensor, meta: dict, plan: Plan, key: int) -> Tensor:
        """One ``(C, H, W)`` input moved (its padding left as it is)."""
        if meta.get('flip'):
            raise ValueError('MotionConsistencySegmentor: '
                             f'{meta.get("img_path")} is flipped by the test '
                             'pipeline; test without flip')
        h, w = (int(v) for v in meta.get('img_shape', x.shape[-2:])[:2])
        _, motion, with_nuisance = plan
        moved = self._moved_at_file_size(meta, motion, (h, w), x)
        if moved is None:
            moved = move_frame(x[None, :, :h, :w], motion.matrix((h, w)),
                               padding_mode=self.padding_mode).img
        if with_nuisance and any(self.nuisance.values()):
            moved = self._sensor(moved, np.random.default_rng(
                [self.seed, key, 1]))
        out = x.clone()
        out[:, :h, :w] = moved[0]
        return out

    def predict(self, inputs: Tensor, data_samples=None):
        if data_samples is None:
            shape = tuple(inputs.shape[-2:])
            data_samples = [SegDataSample(metainfo=dict(
                ori_shape=shape, img_shape=shape, pad_shape=shape,
                padding_size=[0, 0, 0, 0])) for _ in range(inputs.shape[0])]
        metas = [dict(s.metainfo) for s in data_samples]
        results = self.segmentor.predict(inputs, data_samples)
        keys = [self._key(m) for m in metas]
        plans = [self.motions(m, k) for m, k in zip(metas, keys)]
        moved_preds: List[List[Tensor]] = [[] for _ in results]
        for m in range(len(plans[0])):
            moved = torch.stack([
                self._move_input(inputs[i], metas[i], plans[i][m], keys[i])
                for i in range(len(results))])
            fresh = [SegDataSample(metainfo=meta) for meta in metas]
            for i, out in enumerate(self.segmentor.predict(moved, fresh)):
                moved_preds[i].append(out.pred_sem_seg.data[0])
        for sample, plan, preds in zip(results, plans, moved_preds):
            size = tuple(sample.pred_sem_seg.data.shape[-2:])
            fields = [motion_fields(motion.matrix(size), size, inputs.device)
                      for _, motion, _ in plan]
            sample.motion_preds = torch.stack(preds)
            sample.motion_flows = torch.cat([f[0] for f in fields])
            sample.motion_valid = torch.cat([f[1] for f in fields])
            sample.set_metainfo(dict(motion_names=[n for n, _, _ in plan]))
        return results
