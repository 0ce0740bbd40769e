"""SparseIoUMetric: MMSeg's IoUMetric on the labelled frames of a video."""
from typing import Sequence

from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

__all__ = ['SparseIoUMetric']


@METRICS.register_module()
class SparseIoUMetric(IoUMetric):
    """``IoUMetric`` that skips frames without a label.

    A temporal test set serves every frame of a sequence, and only some
    frames have labels (Cityscapes: the 20th of 30). This metric scores the
    labelled ones (those with ``gt_sem_seg``, see ``LoadAnnotationsIfAny``)
    and ignores the others, so it runs beside ``TemporalConsistencyMetric``
    in one test loop. Arguments as ``IoUMetric``.
    """

    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        labelled = [s for s in data_samples if 'gt_sem_seg' in s]
        if labelled:
            super().process(data_batch, labelled)
