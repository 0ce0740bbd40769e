"""Loading of multi-frame samples: frames and labels (flows:
:mod:`.flow_loading`)."""
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from ...utils.errors import DataError

__all__ = ['LoadVideoFrames', 'LoadVideoAnnotations', 'LoadAnnotationsIfAny']


def _sample_name(results: dict) -> str:
    return f"{results.get('seq_name', '?')}:{results.get('img_path', '?')}"


@TRANSFORMS.register_module()
class LoadVideoFrames(BaseTransform):
    """Reads the frames ``results['img_paths']`` of a multi-frame sample.

    Adds ``imgs`` (list of ``(H, W, 3)`` uint8 arrays, BGR like
    ``LoadImageFromFile``), ``img_shape``, ``ori_shape``. A missing or
    unreadable frame, or frames of different sizes, raise an error naming
    the file and the sample.

    Args:
        color_type, imdecode_backend, backend_args: as ``LoadImageFromFile``.
    """

    def __init__(self,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        from mmengine import fileio
        paths = results.get('img_paths')
        if not paths:
            raise KeyError('LoadVideoFrames needs results["img_paths"] (a '
                           'multi-frame sample); got keys '
                           f'{sorted(results)}. For single frames use '
                           'LoadImageFromFile.')
        imgs = []
        for p in paths:
            try:
                buf = fileio.get(p, backend_args=self.backend_args)
            except FileNotFoundError as e:
                raise FileNotFoundError(f'frame missing: {p} (sample '
                                        f'{_sample_name(results)})') from e
            img = mmcv.imfrombytes(buf, flag=self.color_type,
                                   backend=self.imdecode_backend)
            if img is None:
                raise ValueError(f'frame unreadable: {p} (sample '
                                 f'{_sample_name(results)})')
            if imgs and img.shape != imgs[0].shape:
                raise ValueError(
                    f'frames of sample {_sample_name(results)} differ in size: '
                    f'{paths[0]} is {imgs[0].shape[:2]}, {p} is {img.shape[:2]}')
            imgs.append(img)
        results['imgs'] = imgs
        results['img_shape'] = imgs[0].shape[:2]
        results['ori_shape'] = imgs[0].shape[:2]
        results.setdefault('label_index', 0)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(color_type={self.color_type!r})'


@TRANSFORMS.register_module()
class LoadVideoAnnotations(LoadAnnotations):
    """Loads the labelled frame's label as ``gt_seg_map`` (MMSeg's key) and
    checks that it has the size of its frame.

    Args:
        neighbour_labels: also load the labels of the other frames where the
            dataset has them (synthetic video) as ``gt_seg_map_frames``,
            ``(T, H, W)`` with ``ignore_index`` where a frame has none. For
            tests and analysis; training uses the labelled frame only.
        ignore_index: fill value of frames without a label.
        **kwargs: ``LoadAnnotations`` arguments.
    """

    def __init__(self, neighbour_labels: bool = False, ignore_index: int = 255,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.neighbour_labels = neighbour_labels
        self.ignore_index = ignore_index

    def _load_label(self, path: str, results: dict) -> np.ndarray:
        sub = dict(seg_map_path=path, label_map=results.get('label_map'),
                   reduce_zero_label=results.get('reduce_zero_label',
                                                 self.reduce_zero_label),
                   seg_fields=[])
        try:
            self._load_seg_map(sub)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'label missing: {path} (sample '
                                    f'{_sample_name(results)})') from e
        except OSError as e:  # PIL: truncated, not an image (no file named)
            raise DataError(f'label unreadable: {path} ({type(e).__name__}: '
                            f'{e}; sample {_sample_name(results)})') from e
        return sub['gt_seg_map']

    def transform(self, results: dict) -> dict:
        seg = self._load_label(results['seg_map_path'], results)
        shape = (results['imgs'][results.get('label_index', 0)].shape[:2]
                 if 'imgs' in results else results.get('img_shape'))
        if shape is not None and tuple(seg.shape[:2]) != tuple(shape[:2]):
            raise ValueError(
                f'label {results["seg_map_path"]} is {tuple(seg.shape[:2])} '
                f'(HxW) but its frame {results.get("img_path")} is '
                f'{tuple(shape[:2])}: a label must have the size of its image')
        results['gt_seg_map'] = seg
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        if self.neighbour_labels:
            frames = results.get('frames') or [dict(seg_map_path=results['seg_map_path'])]
            maps = []
            for fr in frames:
                # label_path: a label on disk for a frame that the dataset
                # does not count as labelled (synthetic video).
                path = fr.get('seg_map_path') or fr.get('label_path')
                maps.append(self._load_label(path, results) if path else
                            np.full(seg.shape, self.ignore_index, seg.dtype))
            results['gt_seg_map_frames'] = np.stack(maps)
            results['seg_fields'].append('gt_seg_map_frames')
        return results


@TRANSFORMS.register_module()
class LoadAnnotationsIfAny(LoadAnnotations):
    """MMSeg's ``LoadAnnotations`` for frames that may have no label.

    In ``sample_mode='sequence'`` only some frames are labelled
    (``seg_map_path`` is ``None`` for the others): those pass through
    without ``gt_seg_map``, so ``SparseIoUMetric`` scores the labelled
    frames and ``TemporalConsistencyMetric`` every frame.
    """

    def transform(self, results: dict) -> dict:
        if results.get('seg_map_path') is None:
            return results
        return super().transform(results)
