"""``MotionConsistencyMetric``: flicker under known camera motion, in a stock
MMSeg test loop on any labelled dataset (no video, no flow estimator)::

    model = dict(type='MotionConsistencySegmentor', segmentor=<model>,
                 motion=dict(shift=3, rotation=0.5, zoom=0.02))
    test_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                      dict(type='MotionConsistencyMetric')]

The wrapper predicts every frame moved by seeded motions and stores the
moved predictions with their exact flows; this metric scores them like TC
(docs/evaluation.md, "Motion consistency").
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ..functional.class_sets import classes_in, fixed_class_set
from ..functional.motion_consistency import mc_intersect_union, motion_consistency

__all__ = ['MotionConsistencyMetric']

_FIELDS = ('motion_preds', 'motion_flows', 'motion_valid', 'motion_names')


def _fmt(value: float) -> object:
    return round(float(value), 2) if np.isfinite(value) else '-'


@METRICS.register_module()
class MotionConsistencyMetric(BaseMetric):
    """Motion consistency (MC) of per-frame predictions, in percent.

    Each frame's prediction is compared with the prediction of the frame
    moved by a known camera motion, warped back with the exact flow, class
    by class like an IoU (out-of-frame pixels left out); I and U are pooled
    over all frames per motion. Metric keys:

    * ``mMC``: the mean over the class set under the random motion (the
      wrapper's ``motion``); a class of the set never predicted scores 0;
    * ``mMC_pred``: the same over the classes of the set the model
      predicts somewhere (flicker apart from recognition; TC's
      ``mTC_pred``);
    * ``mMC_shift<k>``: ``mMC`` under a pure shift of k pixels (the curve
      over motion magnitude).

    The per-class table is logged; :attr:`last_result` keeps every figure.

    Args:
        ignore_index: label left out of the comparison.
        classes: the class set (ids or names); None: the classes in the
            ground truth of the scored frames, else all the dataset's
            classes (as ``TemporalConsistencyMetric``).
        collect_device, prefix: as in ``BaseMetric``.
    """

    def __init__(self, ignore_index: int = 255,
                 classes: Optional[Sequence[Union[int, str]]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.classes = None if classes is None else list(classes)
        #: ``{motion name: result}`` of the last evaluation (see
        #: :func:`~mmseg_temporal.evaluation.functional.motion_consistency`)
        #: plus ``class_set`` (words) and ``classes`` (ids).
        self.last_result: Optional[Dict] = None

    def _class_names(self) -> List[str]:
        if not self.dataset_meta or 'classes' not in self.dataset_meta:
            raise ValueError("MotionConsistencyMetric needs dataset_meta with "
                             "'classes' (set by the runner from the dataset)")
        return list(self.dataset_meta['classes'])

    def _record(self, sample: dict, k: int) -> dict:
        path = sample.get('img_path', '?')
        missing = [f for f in _FIELDS if f not in sample]
        if missing:
            raise KeyError(
                f'MotionConsistencyMetric: the data sample of {path} has no '
                f'{missing}: test the model wrapped, model=dict(type='
                "'MotionConsistencySegmentor', segmentor=<the model>)")
        pred = sample['pred_sem_seg']['data'][0]
        try:
            stats = mc_intersect_union(
                pred, list(sample['motion_preds']), list(sample['motion_flows']),
                [v[0] for v in sample['motion_valid']], k, self.ignore_index)
        except ValueError as e:
            raise ValueError(f'MotionConsistencyMetric: {path}: {e}') from e
        record = dict(names=tuple(sample['motion_names']), stats=stats,
                      img_path=path,
                      pred_classes=classes_in(pred.cpu(), k, self.ignore_index))
        if 'gt_sem_seg' in sample:
            record['gt_classes'] = classes_in(
                sample['gt_sem_seg']['data'].cpu(), k, self.ignore_index)
        return record

    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        """Scores every frame's motions; keeps per-class counts only."""
        k = len(self._class_names())
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            self.results.append(self._record(sample, k))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        class_names = self._class_names()
        if not results:
            raise ValueError('MotionConsistencyMetric: no frame was scored')
        names = results[0]['names']
        for r in results:
            if r['names'] != names:
                raise ValueError(f'MotionConsistencyMetric: {r["img_path"]} was '
                                 f'moved by {list(r["names"])}, the first frame '
                                 f'by {list(names)}: one wrapper config per run')
        gt = {int(c) for r in results for c in r.get('gt_classes', ())}
        classes, desc = fixed_class_set(self.classes, class_names, gt or None,
                                        'MotionConsistencyMetric')
        predicted = {int(c) for r in results for c in r['pred_classes']}
        res = motion_consistency([r['stats'] for r in results], names, classes,
                                 predicted)
        self.last_result = dict(res, class_set=desc, classes=classes)
        self._log(res, names, class_names, desc, predicted, len(results))
        main = res[names[0]]
        metrics = dict(mMC=main['mTC'], mMC_pred=main['mTC_pred'])
        metrics.update({f'mMC_{n}': res[n]['mTC'] for n in names[1:]})
        return {k: float(np.round(v, 2)) for k, v in metrics.items()}

    @staticmethod
    def _log(res: Dict, names: Sequence[str], class_names: List[str],
             desc: str, predicted: set, num_frames: int) -> None:
        table = PrettyTable()
        table.add_column('Class', class_names)
        for n in names:
            table.add_column('MC' if n == 'motion' else n,
                             [_fmt(v) for v in res[n]['per_class']])
        table.add_column('predicted', ['yes' if c in predicted else 'no'
                                       for c in range(len(class_names))])
        curve = ', '.join(f'{n} {res[n]["mTC"]:.2f}' for n in names[1:])
        print_log(f'per class motion consistency (class set: {desc}):\n'
                  + table.get_string(), 'current')
        print_log(f'motion consistency over {num_frames} frames: mMC '
                  f'{res[names[0]]["mTC"]:.2f} (random motion), mMC_pred '
                  f'{res[names[0]]["mTC_pred"]:.2f} (over the '
                  f'{len(predicted)} predicted classes)'
                  + (f'; pure shifts: {curve}' if curve else ''), 'current')
