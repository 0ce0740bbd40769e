"""SparseIoUMetric: MMSeg's IoUMetric on the labelled frames of a video."""
from typing import Sequence

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
    in one test loop. Arguments as ``IoUMetric``.

    A label id outside ``[0, num_classes)`` other than ``ignore_index``
    raises a ``DataError`` naming the label file (``IoUMetric`` would drop
    those pixels from the label's area but not from the prediction's, and
    report a wrong IoU).
    """

    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        labelled = [s for s in data_samples if 'gt_sem_seg' in s]
        classes = (self.dataset_meta or {}).get('classes')
        for s in labelled if classes is not None else ():
            check_label_ids(s['gt_sem_seg']['data'].cpu(), len(classes),
                            self.ignore_index, s.get('seg_map_path')
                            or f'of {s.get("img_path", "?")}')
        if labelled:
            super().process(data_batch, labelled)
