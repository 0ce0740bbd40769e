"""SparseIoUMetric: MMSeg's IoUMetric on the labelled frames of a video."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ...utils.labels import check_label_ids

__all__ = ['SparseIoUMetric']


@METRICS.register_module()
class SparseIoUMetric(IoUMetric):
    """``IoUMetric`` that skips frames without a label.

    A temporal test set serves every frame of a sequence, and only some
    frames have labels (Cityscapes: the 20th of 30). This metric scores the
    labelled ones (those with ``gt_sem_seg``, see ``LoadAnnotationsIfAny``)
    and ignores the others, so it runs beside ``TemporalConsistencyMetric``
    in one test loop.

    A label id outside ``[0, num_classes)`` other than ``ignore_index``
    raises a ``DataError`` naming the label file (``IoUMetric`` would drop
    those pixels from the label's area but not from the prediction's, and
    report a wrong IoU).

    Args:
        subset: optionally also score a share of the frames, picked by a
            per-frame metainfo figure: ``dict(key='object_speed',
            quantile=0.75, name='fast')`` scores the frames whose
            ``object_speed`` is at least the 0.75 quantile of that figure
            over the scored frames (the synthetic video's fast frames), as
            ``mIoU_fast`` (every class-mean figure the metric reports, e.g.
            also ``mAcc_fast``), with ``<name>_threshold`` and
            ``<name>_frames``. A frame without the key, or with a value that
            is not finite, is an error naming the key and the frame.
        **kwargs: ``IoUMetric``'s arguments.
    """

    def __init__(self, subset: Optional[dict] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if subset is not None:
            unknown = set(subset) - {'key', 'quantile', 'name'}
            if unknown or 'key' not in subset:
                raise ValueError(f'SparseIoUMetric subset: expected keys key, '
                                 f'quantile, name; got {sorted(subset)}')
            subset = dict(dict(quantile=0.75, name='subset'), **subset)
            if not 0 <= subset['quantile'] <= 1:
                raise ValueError(f'SparseIoUMetric subset quantile must lie in '
                                 f'[0, 1], got {subset["quantile"]}')
            if self.format_only:
                raise ValueError('SparseIoUMetric: subset scores labelled frames; '
                                 'it cannot run with format_only=True')
        self.subset = subset

    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        labelled = [s for s in data_samples if 'gt_sem_seg' in s]
        classes = (self.dataset_meta or {}).get('classes')
        for s in labelled if classes is not None else ():
            check_label_ids(s['gt_sem_seg']['data'].cpu(), len(classes),
                            self.ignore_index, s.get('seg_map_path')
                            or f'of {s.get("img_path", "?")}')
        if not labelled:
            return
        first = len(self.results)
        super().process(data_batch, labelled)
        if self.subset is not None:
            key = self.subset['key']
            for i, s in enumerate(labelled):
                if key not in s:
                    raise KeyError(f'SparseIoUMetric subset: frame '
                                   f'{s.get("img_path", "?")} has no metainfo '
                                   f'{key!r} (does its dataset give it?)')
                if not np.isfinite(float(s[key])):
                    raise ValueError(f'SparseIoUMetric subset: frame '
                                     f'{s.get("img_path", "?")} has {key}={s[key]}')
                self.results[first + i] = (*self.results[first + i], float(s[key]))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if self.subset is None:
            return super().compute_metrics(results)
        values = np.array([r[4] for r in results])
        areas = [r[:4] for r in results]
        metrics = super().compute_metrics(areas)
        name = self.subset['name']
        threshold = float(np.quantile(values, self.subset['quantile']))
        chosen = [a for a, v in zip(areas, values) if v >= threshold]
        totals = [sum(column) for column in zip(*chosen)]
        per_class = self.total_area_to_metrics(*totals, self.metrics,
                                               self.nan_to_num, self.beta)
        for metric, value in per_class.items():
            if metric != 'aAcc':
                metrics[f'm{metric}_{name}'] = np.round(np.nanmean(value) * 100, 2)
        metrics.update({f'{name}_threshold': threshold, f'{name}_frames': len(chosen)})
        return metrics
