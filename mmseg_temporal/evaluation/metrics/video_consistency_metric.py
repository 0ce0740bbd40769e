"""``VideoConsistencyMetric``: VSPW's VC_n in a stock MMSeg test loop."""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmseg.registry import METRICS

from ..functional import video_consistency
from .sequence_frames import SequenceFrameMetric, consecutive_runs, decode_map

__all__ = ['VideoConsistencyMetric']


@METRICS.register_module()
class VideoConsistencyMetric(SequenceFrameMetric):
    """VSPW's video consistency ``mVC_n`` (percent) on densely labelled
    sequences, computed as VSPW's ``VC_perclip.py``: for each window of
    ``n`` frames, the share of the pixels whose label stays the same over
    the window (the common region) whose prediction stays the same too;
    windows start at ``0 .. T-n-1`` (VSPW's ``range(T - n)`` leaves out the
    last full window); all windows of all sequences are nan-mean pooled;
    sequences of ``<= n`` frames are skipped. One deviation: ground-truth
    ``ignore_index`` pixels of any frame of the window are left out. See
    :func:`~mmseg_temporal.evaluation.functional.video_consistency`.

    **A constant prediction scores 100**: VC measures stability, not
    correctness, so read it beside mIoU, never alone.

    Runs beside ``SparseIoUMetric`` and ``TemporalConsistencyMetric`` on
    the frames of ``sample_mode='sequence'`` (same records and regrouping).
    The sequences are cut into runs of consecutive labelled frames (frames
    without a label end a run), and the runs are scored.

    Args:
        n: window length(s); one key ``mVC_<n>`` each. Default ``(8, 16)``.
        ignore_index: ground-truth label left out.
        compress, sequence_prefixes, prefix: see
            :class:`~.sequence_frames.SequenceFrameMetric`.
    """

    def __init__(self,
                 n: Union[int, Sequence[int]] = (8, 16),
                 ignore_index: int = 255,
                 compress: bool = True,
                 sequence_prefixes: Optional[Sequence[str]] = None,
                 prefix: Optional[str] = None) -> None:
        super().__init__(compress, sequence_prefixes, prefix)
        windows = (n, ) if isinstance(n, int) else tuple(n)
        if not windows or any(int(w) != w or w < 2 for w in windows):
            raise ValueError('VideoConsistencyMetric: n must be window '
                             f'lengths >= 2 (frames), got {n!r}')
        self.windows = tuple(int(w) for w in windows)
        self.ignore_index = ignore_index
        #: Per ``n``, the dict of ``video_consistency`` of the last run,
        #: plus ``seq_names`` (one per scored run).
        self.last_result: Optional[Dict[int, Dict]] = None

    def _labelled_runs(self, results: List[dict]):
        """``(names, preds, labels)`` of the runs of consecutive labelled
        frames, and the number of frames left out for want of a label."""
        names, preds, labels, unlabelled = [], [], [], 0
        for name, frames in self._sequences(results).items():
            unlabelled += sum('gt_classes' not in f for f in frames)
            labelled = [f for f in frames if 'gt_classes' in f]
            for k, run in enumerate(consecutive_runs(labelled)):
                names.append(name if k == 0 else f'{name}#{k}')
                preds.append([decode_map(f, 'pred') for f in run])
                labels.append([decode_map(f, 'label') for f in run])
        return names, preds, labels, unlabelled

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """``dict(mVC_8=..., mVC_16=...)`` in percent (2 decimals)."""
        names, preds, labels, unlabelled = self._labelled_runs(results)
        metrics, self.last_result = {}, {}
        for n in self.windows:
            res = video_consistency(preds, labels, n, self.ignore_index)
            res['seq_names'] = names
            self.last_result[n] = res
            metrics[f'mVC_{n}'] = float(np.round(res['mVC'], 2))
            print_log(f'VC_{n} over {res["num_windows"]} windows of '
                      f'{len(names) - len(res["skipped"])} labelled runs '
                      f'({len(res["skipped"])} of <= {n} frames skipped): '
                      f'mVC_{n} {res["mVC"]:.2f}', 'current')
        if unlabelled:
            print_log(f'VideoConsistencyMetric: {unlabelled} frames without '
                      'a label are not scored (VC needs labelled frames)',
                      'current')
        print_log('VC: a constant prediction scores 100; read it beside '
                  'mIoU', 'current')
        return metrics
