"""``TemporalConsistencyMetric``: TC (appendix B.3) in a stock MMSeg test loop.

Used beside the IoU metric::

    test_evaluator = [dict(type='SparseIoUMetric', iou_metrics=['mIoU']),
                      dict(type='TemporalConsistencyMetric',
                           flow=dict(type='DISFlow', preset='medium'))]

The dataset serves every frame of every sequence (see
:mod:`.sequence_frames`). One scoring path for one process and many: every
rank sees all records, scores its own block of frame pairs
(:func:`~mmseg_temporal.evaluation.distributed.pair_share`) and every rank
sums up the same statistics; rank 0 logs and writes the outputs.
"""
import copy
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from mmseg.registry import METRICS

from ...flow.sources.base import build_flow_source, needs_pixels
from ...flow.sources.forward_backward import ForwardBackwardChecked
from ...utils.image import read_rgb
from ..distributed import pair_share, run_on_every_rank
from ..functional import predicted_class_mean, tc_aggregate, tc_intersect_union
from ..reporting import tc_table, write_tc_outputs
from .sequence_frames import SequenceFrameMetric, decode_map

__all__ = ['TemporalConsistencyMetric', 'pair_share']

_DEFAULT_FLOW = dict(type='DISFlow')


class TCPlan(NamedTuple):
    """What is scored, decided from the records alone (the same on every
    rank): sequences, pairs ``(sequence position, record t, record t+1)``,
    class names, the class set and its description, per-sequence sets and
    the classes the predictions hold."""
    seqs: 'dict'
    pairs: List
    class_names: List[str]
    classes: np.ndarray
    class_set: str
    seq_classes: List[np.ndarray]
    predicted: np.ndarray


def _classes_of(frames: List[dict], key: str, k: int) -> Optional[set]:
    """Union of ``key`` (``gt_classes``/``pred_classes``) over the frames
    that have it, within ``[0, K)``; None when none has it."""
    found = [f[key] for f in frames if key in f]
    if not found:
        return None
    return {int(c) for ids in found for c in ids if int(c) < k}


@METRICS.register_module()
class TemporalConsistencyMetric(SequenceFrameMetric):
    """Temporal consistency of per-frame predictions, in percent.

    ``process()`` keeps one compact record per frame; the frames are
    regrouped by sequence, the flow ``t -> t+1`` of consecutive frames is
    taken from ``flow`` and every pair is scored with
    :func:`~mmseg_temporal.evaluation.functional.tc_intersect_union`.

    Metric keys (percent):

    * ``mTC``: I and U per class pooled over all pairs, mean over the class
      set (a class of the set never predicted scores 0: the authors'
      evaluation). The set is ``classes`` when given, else the classes in
      the ground truth of the scored sequences (labelled frames), else all
      the dataset's classes; the log says which.
    * ``mTC_seq``: per sequence over the set's classes in that sequence's
      ground truth (the whole set for an unlabelled sequence), then the
      mean over sequences (Eq. 8).
    * ``mTC_pred``: the mean over the classes of the set the model
      predicts somewhere in the scored frames: flicker apart from
      recognition. Read both. (``mTC_shared``, over the classes every
      compared model predicts, is a comparison's figure:
      :func:`~mmseg_temporal.evaluation.functional.shared_class_means`.)
    * ``mTC_gt`` (where consecutive frames are labelled): the TC of the
      ground-truth labels under the same flow and masks, over the set's
      classes the labels hold: the flow's ceiling.

    Args:
        ignore_index: label left out of the comparison.
        flow: the flow source: an estimator config (``MODELS``, e.g.
            ``dict(type='DISFlow', preset='medium')``), a file-keyed source
            config (``TASK_UTILS``: ``PrecomputedFlow``,
            ``SyntheticExactFlow``, ``ForwardBackwardChecked``) or a callable
            ``(path_t, path_t1, img_t, img_t1) -> flow or (flow, valid)``;
            built with ``build_flow_source`` at construction (a flow cache
            that cannot be written or holds another estimator's flows is
            refused before the test loop).
        fb_check: leave out the pixels failing the forward-backward check
            (``True``, or ``dict(alpha=..., beta=...)``): wraps ``flow`` in
            ``ForwardBackwardChecked`` (one more flow per pair).
        classes: the class set (ids or names); None: the default above.
        output_dir: folder for ``tc_per_pair.csv``, ``tc_per_pair.png`` and
            ``tc_per_class.csv``; None writes nothing.
        show_progress: progress bar over frame pairs.
        compress, sequence_prefixes, prefix: see
            :class:`~.sequence_frames.SequenceFrameMetric`.
    """

    def __init__(self,
                 ignore_index: int = 255,
                 flow: Optional[Union[dict, Callable]] = _DEFAULT_FLOW,
                 fb_check: Union[bool, dict] = False,
                 classes: Optional[Sequence[Union[int, str]]] = None,
                 output_dir: Optional[str] = None,
                 compress: bool = True,
                 show_progress: bool = True,
                 sequence_prefixes: Optional[Sequence[str]] = None,
                 prefix: Optional[str] = None) -> None:
        super().__init__(compress, sequence_prefixes, prefix)
        if flow is None:
            raise ValueError('TemporalConsistencyMetric needs `flow` (an '
                             'estimator or flow source config, or a callable)')
        if not (callable(flow) or isinstance(flow, dict)):
            raise TypeError('flow must be a config dict or a callable, got '
                            f'{type(flow).__name__}')
        self.ignore_index = ignore_index
        self.flow_cfg = flow if callable(flow) else copy.deepcopy(flow)
        self.fb_check = fb_check
        self.classes = None if classes is None else list(classes)
        self.output_dir = output_dir
        self.show_progress = show_progress
        # Built now, not at the first pair: a cache that cannot be used
        # (unwritable, another estimator's) is refused before the test loop
        # runs, not after it.
        self._source = self._build_source()
        #: Full result of the last evaluation: the dict of ``tc_aggregate``
        #: plus ``seq_names``, ``frame_indices``, ``predicted_classes``,
        #: ``class_set`` and ``gt`` (the ground truth's, or None).
        self.last_result: Optional[Dict] = None

    def _flow(self, path_t: str, path_t1: str, img_t: np.ndarray,
              img_t1: np.ndarray):
        """``(flow (2, H, W), valid (H, W) or None)`` from frame t to t+1:
        the one place the metric gets flow."""
        return self._source(path_t, path_t1, img_t, img_t1)

    def _build_source(self):
        source = build_flow_source(self.flow_cfg)
        if self.fb_check:
            opts = self.fb_check if isinstance(self.fb_check, dict) else {}
            source = ForwardBackwardChecked(source, **opts)
        return source

    def _class_set(self, frames: List[dict], k: int, names: List[str]):
        """The class ids of the set and the words saying which set it is."""
        if self.classes is not None:
            ids = []
            for c in self.classes:
                if isinstance(c, str) and c not in names:
                    raise ValueError(f'TemporalConsistencyMetric: classes '
                                     f'names {c!r}, not one of {names}')
                ids.append(names.index(c) if isinstance(c, str) else int(c))
            bad = [i for i in ids if not 0 <= i < k]
            if bad:
                raise ValueError('TemporalConsistencyMetric: classes holds '
                                 f'ids outside [0, {k}): {bad}')
            return np.unique(ids), f'the {len(set(ids))} given classes'
        gt = _classes_of(frames, 'gt_classes', k)
        if gt:
            return (np.asarray(sorted(gt), np.int64), f'the {len(gt)} classes '
                    'in the ground truth of the scored sequences')
        return (np.arange(k), f'all {k} dataset classes (no labelled frame '
                'in the scored sequences)')

    def _plan(self, records: List[dict]) -> TCPlan:
        names = self._class_names()
        k = len(names)
        seqs = self._sequences(records)
        pairs, gaps = [], 0
        for s, frames in enumerate(seqs.values()):
            for a, b in zip(frames[:-1], frames[1:]):
                if b['frame_index'] - a['frame_index'] == 1:
                    pairs.append((s, a, b))
                else:
                    gaps += 1
        if gaps:
            print_log(f'TemporalConsistencyMetric: {gaps} gap(s) in the '
                      'frame indices of the sequences; pairs across a gap are '
                      'not scored', 'current', level=30)
        scored = [f for fr in seqs.values() if len(fr) > 1 for f in fr]
        classes, desc = self._class_set(scored, k, names)
        seq_classes = []
        for frames in seqs.values():
            own = _classes_of(frames, 'gt_classes', k)
            seq_classes.append(classes if own is None else
                               np.intersect1d(classes, sorted(own)))
        predicted = _classes_of(scored, 'pred_classes', k) or set()
        return TCPlan(seqs, pairs, names, classes, desc, seq_classes,
                      np.asarray(sorted(predicted), np.int64))

    def _score(self, pairs: List, num_classes: int,
               show_progress: bool) -> List:
        """Per pair: ``(I, U)`` of the predictions and, where both frames
        are labelled, of the labels under the same flow and mask."""
        stats = []
        bar = ProgressBar(len(pairs)) if (show_progress and pairs) else None
        cache: Dict[str, tuple] = {}
        pixels = needs_pixels(self._source)  # else no frame is read from disk
        for _, a, b in pairs:
            for r in (a, b):
                if r['img_path'] not in cache:
                    pred = decode_map(r, 'pred')
                    img = read_rgb(r['img_path'], pred.shape) if pixels else None
                    cache[r['img_path']] = (pred, decode_map(r, 'label'), img)
            (pred_t, gt_t, img_t), (pred_t1, gt_t1, img_t1) = (
                cache[a['img_path']], cache[b['img_path']])
            cache = {b['img_path']: cache[b['img_path']]}  # frame t+1 only
            if pred_t.shape != pred_t1.shape:
                raise ValueError(
                    f'sequence {a["seq_name"]!r}: predictions of frames '
                    f'{a["frame_index"]} and {b["frame_index"]} differ in '
                    f'size: {pred_t.shape} vs {pred_t1.shape}')
            flow, valid = self._flow(a['img_path'], b['img_path'], img_t,
                                     img_t1)
            if tuple(np.shape(flow)) != (2, ) + pred_t.shape:
                raise ValueError(
                    f'flow for {a["img_path"]} -> {b["img_path"]} has shape '
                    f'{tuple(np.shape(flow))}, expected '
                    f'{(2, ) + pred_t.shape} (the prediction resolution)')
            args = (flow, num_classes, self.ignore_index, valid)
            stats.append((tc_intersect_union(pred_t, pred_t1, *args),
                          None if gt_t is None or gt_t1 is None else
                          tc_intersect_union(gt_t, gt_t1, *args, names=(
                              f'the label of {a["img_path"]}',
                              f'the label of {b["img_path"]}'))))
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.file.write('\n')  # end the progress bar's line
            bar.file.flush()
        return stats

    def _summarise(self, plan: TCPlan, stats: List, main: bool) -> Dict:
        """Aggregates the pairs' statistics (the same on every rank); on the
        main rank logs the table and writes the outputs."""
        per_seq: List[List] = [[] for _ in plan.seqs]
        frame_ids: List[List[int]] = [[] for _ in plan.seqs]
        for (s, a, _), (pred_st, _) in zip(plan.pairs, stats):
            per_seq[s].append(pred_st)
            frame_ids[s].append(a['frame_index'])
        res = tc_aggregate(per_seq, plan.classes, plan.seq_classes)
        if len(res['per_class']) == 0:
            res['per_class'] = np.full(len(plan.class_names), np.nan)
        res.update(seq_names=list(plan.seqs), frame_indices=frame_ids,
                   predicted_classes=plan.predicted, class_set=plan.class_set,
                   mTC_pred=predicted_class_mean(res, plan.predicted), gt=None)
        gt_stats = [g for _, g in stats if g is not None]
        if gt_stats:
            held = np.flatnonzero(sum(u for _, u in gt_stats) > 0)
            res['gt'] = tc_aggregate([gt_stats],
                                     np.intersect1d(plan.classes, held))
        self.last_result = res
        if main:
            self._log(res, plan)
        metrics = dict(mTC=res['mTC'], mTC_seq=res['mTC_seq'],
                       mTC_pred=res['mTC_pred'])
        if res['gt'] is not None:
            metrics['mTC_gt'] = res['gt']['mTC']
        return {k: float(np.round(v, 2)) for k, v in metrics.items()}

    def _log(self, res: Dict, plan: TCPlan) -> None:
        if res['num_pairs'] == 0:
            print_log('TemporalConsistencyMetric: no consecutive frame pair '
                      'to score (are sequences served in full?)', 'current',
                      level=30)
        print_log(f'per class temporal consistency (class set: '
                  f'{plan.class_set}):\n'
                  + tc_table(res, plan.class_names), 'current')
        gt = res['gt']
        print_log(f'TC over {res["num_pairs"]} frame pairs of '
                  f'{len(plan.seqs)} sequences: mTC {res["mTC"]:.2f} (I/U '
                  f'pooled over all pairs), mTC_seq {res["mTC_seq"]:.2f} (per '
                  'sequence, then averaged: Eq. 8), mTC_pred '
                  f'{res["mTC_pred"]:.2f} (over the '
                  f'{len(plan.predicted)} predicted classes)'
                  + ('' if gt is None else
                     f'; ground truth under the same flow: mTC_gt '
                     f'{gt["mTC"]:.2f} over {gt["num_pairs"]} labelled '
                     'pairs'), 'current')
        if self.output_dir is not None:
            paths = write_tc_outputs(res, plan.class_names, self.output_dir)
            print_log(f'TC curves written to {", ".join(paths)}', 'current')

    def _compute(self, records: List[dict], rank: int, world: int) -> Dict:
        """The one scoring path: plan, this rank's block of pairs, the
        statistics of every rank, the summary. Raises on every rank."""
        name = type(self).__name__
        plan = run_on_every_rank(name, self._plan, records)
        mine = plan.pairs[pair_share(len(plan.pairs), rank, world)]
        parts = run_on_every_rank(name, self._score, mine,
                                  len(plan.class_names),
                                  self.show_progress and rank == 0,
                                  gather=True)
        stats = [st for part in parts for st in part]
        return run_on_every_rank(name, self._summarise, plan, stats,
                                 rank == 0)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Scores ``results`` (all records) in this process alone."""
        return self._compute(results, 0, 1)
