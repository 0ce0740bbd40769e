"""Packing of multi-frame samples into ``inputs`` + ``SegDataSample``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

__all__ = ['PackVideoSegInputs', 'PackSequenceSegInputs']

#: The metainfo that ``TemporalConsistencyMetric`` regroups frames by.
SEQUENCE_META_KEYS = ('seq_name', 'frame_index')
#: Per-frame figures a dataset may give, packed when present
#: (``SparseIoUMetric``'s ``subset`` scores a share of frames by one).
FRAME_META_KEYS = ('object_speed', )


@TRANSFORMS.register_module()
class PackVideoSegInputs(BaseTransform):
    """Packs a multi-frame sample like MMSeg's ``PackSegInputs``.

    ``inputs``: ``(T, 3, H, W)`` uint8 tensor of the frames in time order
    (BGR, as loaded). ``data_samples``: a :class:`SegDataSample` with the
    labelled frame's ``gt_sem_seg`` ``(1, H, W)``; when the sample has flows,
    the data fields ``flows`` ``(T-1, 2, H, W)`` float32 (``flows[i]`` from
    frame i to i+1, pixels) and ``flow_valid`` ``(T-1, 1, H, W)`` bool; when
    it has every frame's labels, ``gt_sem_seg_frames`` ``(T, H, W)`` long.
    Metainfo: ``meta_keys`` that are present, among them ``label_index``
    (position of the labelled frame in ``inputs``) and ``img_paths``.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = (
                     'img_path', 'img_paths', 'seg_map_path', 'ori_shape',
                     'img_shape', 'pad_shape', 'scale_factor', 'flip',
                     'flip_direction', 'reduce_zero_label', 'label_index',
                     'frame_ids', 'seq_name', 'frame_index', 'offsets')
                 ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        imgs = np.stack(results['imgs'])  # (T, H, W, 3)
        if not imgs.flags.c_contiguous:
            imgs = np.ascontiguousarray(imgs)
        inputs = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()
        sample = SegDataSample()
        if 'gt_seg_map' in results:
            seg = results['gt_seg_map']
            sample.gt_sem_seg = PixelData(
                data=torch.from_numpy(seg[None].astype(np.int64)))
        if 'gt_seg_map_frames' in results:
            sample.gt_sem_seg_frames = torch.from_numpy(
                results['gt_seg_map_frames'].astype(np.int64))
        if 'flows' in results:
            sample.flows = torch.from_numpy(
                np.ascontiguousarray(results['flows'].transpose(0, 3, 1, 2)))
            sample.flow_valid = torch.from_numpy(
                np.ascontiguousarray(results['flow_valid']))[:, None]
        sample.set_metainfo({k: results[k] for k in self.meta_keys
                             if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class PackSequenceSegInputs(PackSegInputs):
    """MMSeg's ``PackSegInputs`` for one frame of a ``sample_mode='sequence'``
    dataset: the same packing, with ``seq_name`` and ``frame_index`` always
    added to ``meta_keys`` (``TemporalConsistencyMetric`` needs them), and
    the per-frame figures of ``FRAME_META_KEYS`` (the synthetic video's
    ``object_speed``) where the dataset gives them.

    Args:
        meta_keys: as ``PackSegInputs``'s (default: its defaults).
    """

    def __init__(self, meta_keys: Sequence[str] = (
            'img_path', 'seg_map_path', 'ori_shape', 'img_shape',
            'pad_shape', 'scale_factor', 'flip', 'flip_direction',
            'reduce_zero_label')) -> None:
        meta_keys = tuple(meta_keys)
        super().__init__(meta_keys + tuple(
            k for k in SEQUENCE_META_KEYS + FRAME_META_KEYS if k not in meta_keys))
