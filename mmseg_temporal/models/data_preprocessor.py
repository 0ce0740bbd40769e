"""VideoSegDataPreProcessor: stacks multi-frame samples into (B, T, 3, H, W)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

__all__ = ['VideoSegDataPreProcessor']


@MODELS.register_module()
class VideoSegDataPreProcessor(SegDataPreProcessor):
    """MMSeg's ``SegDataPreProcessor`` for video samples.

    Multi-frame ``inputs`` (each ``(T, 3, H, W)``, from
    :class:`PackVideoSegInputs`) become one ``(B, T, 3, H, W)`` float tensor:
    BGR->RGB when ``bgr_to_rgb``, normalised with ``mean``/``std``, padded at
    the bottom/right to ``size`` (or to a multiple of ``size_divisor``, or to
    the largest sample) with ``pad_val``. The labelled frame's ``gt_sem_seg``
    is padded with ``seg_pad_val``, the flows with 0 and ``flow_valid`` with
    False, every frame label map (``gt_sem_seg_frames``) with
    ``seg_pad_val``. Metainfo gains ``batch_input_shape``, ``pad_shape`` and
    ``padding_size`` as in MMSeg.

    Single-frame inputs (``(3, H, W)``) go through the stock MMSeg path
    unchanged, so one preprocessor serves training on triplets and
    frame-by-frame testing.

    :meth:`unnormalize` gives back RGB pixels in ``[0, 255]`` (what flow
    estimators take) from the normalised inputs.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        data = self.cast_data(data)
        inputs = data['inputs']
        if not isinstance(inputs, (list, tuple)) and inputs.dim() == 5:
            inputs = list(inputs)
        if not inputs or inputs[0].dim() != 4:
            return super().forward(data, training)
        data_samples = data.get('data_samples', None)
        frames = []
        for x in inputs:
            if x.shape[1] != 3:
                raise ValueError(f'video inputs must be (T, 3, H, W), got '
                                 f'{tuple(x.shape)}')
            if self.channel_conversion:
                x = x[:, [2, 1, 0]]
            x = x.float()
            if self._enable_normalize:
                x = (x - self.mean) / self.std
            frames.append(x)
        if training or self.test_cfg:
            size = self.size if training else (self.test_cfg or {}).get('size')
            divisor = (self.size_divisor if training else
                       (self.test_cfg or {}).get('size_divisor'))
            target = self._target_size(frames, size, divisor)
        else:
            target = frames[0].shape[-2:]
            for x in frames:
                if x.shape[-2:] != target:
                    raise ValueError('video inputs of one test batch must share '
                                     f'a size: {tuple(target)} vs '
                                     f'{tuple(x.shape[-2:])}; set test_cfg='
                                     'dict(size_divisor=...) to pad')
        out = []
        for i, x in enumerate(frames):
            h, w = x.shape[-2:]
            pad_h, pad_w = target[0] - h, target[1] - w
            if pad_h < 0 or pad_w < 0:
                raise ValueError(f'sample {i} is {h}x{w}, larger than the '
                                 f'padding target {tuple(target)}')
            out.append(F.pad(x, (0, pad_w, 0, pad_h), value=self.pad_val))
            if data_samples is not None:
                self._pad_sample(data_samples[i], pad_h, pad_w, tuple(target))
        return dict(inputs=torch.stack(out), data_samples=data_samples)

    @staticmethod
    def _target_size(frames: List[torch.Tensor],
                     size: Optional[Sequence[int]],
                     divisor: Optional[int]) -> Tuple[int, int]:
        if size is not None:
            return int(size[0]), int(size[1])
        h = max(x.shape[-2] for x in frames)
        w = max(x.shape[-1] for x in frames)
        if divisor:
            h = (h + divisor - 1) // divisor * divisor
            w = (w + divisor - 1) // divisor * divisor
        return h, w

    def _pad_sample(self, sample, pad_h: int, pad_w: int,
                    target: Tuple[int, int]) -> None:
        pad = (0, pad_w, 0, pad_h)
        if 'gt_sem_seg' in sample:
            seg = sample.gt_sem_seg.data
            sample.gt_sem_seg = PixelData(
                data=F.pad(seg, pad, value=self.seg_pad_val))
        if 'gt_sem_seg_frames' in sample:
            sample.gt_sem_seg_frames = F.pad(sample.gt_sem_seg_frames, pad,
                                             value=self.seg_pad_val)
        if 'flows' in sample:
            sample.flows = F.pad(sample.flows, pad, value=0.0)
            sample.flow_valid = F.pad(sample.flow_valid, pad, value=False)
        sample.set_metainfo(dict(
            batch_input_shape=target, pad_shape=target,
            padding_size=[0, pad_w, 0, pad_h]))

    def unnormalize(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised ``(..., 3, H, W)`` inputs -> RGB pixels in [0, 255]
        (whatever the channel order of the model, the result is RGB)."""
        x = inputs * self.std + self.mean if self._enable_normalize else inputs
        if not self.channel_conversion:
            # The model sees BGR: flip to RGB for flow estimators.
            x = x.flip(-3)
        return x
