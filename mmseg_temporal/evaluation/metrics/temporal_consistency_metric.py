"""``TemporalConsistencyMetric``: TC (appendix B.3) in a stock MMSeg test loop.

Used beside ``IoUMetric``::

    val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                     dict(type='TemporalConsistencyMetric',
                          flow=dict(type='DISFlow'), output_dir='work/tc')]

The dataset serves every frame of every sequence, one frame per sample, with
``seq_name`` and ``frame_index`` in the metainfo (pack with
``PackSequenceSegInputs``, or add them to ``PackSegInputs(meta_keys=...)``). Frames may arrive in any order and be
split over ranks: they are regrouped after gathering.
"""
import copy
import csv
import os
import os.path as osp
from collections import OrderedDict, defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.dist import (all_gather_object, broadcast_object_list,
                           get_rank, get_world_size, is_main_process)
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from mmengine.utils import ProgressBar, mkdir_or_exist
from prettytable import PrettyTable

from mmseg.registry import METRICS, MODELS
from ...models.flow.base import flow_of_images
from ...utils.image import read_rgb
from ..functional import tc_aggregate, tc_intersect_union

__all__ = ['TemporalConsistencyMetric', 'pair_share']

FlowResult = Union[np.ndarray, torch.Tensor, Tuple]


def pair_share(num_pairs: int, rank: int, world_size: int) -> slice:
    """The contiguous block of the ``num_pairs`` frame pairs that ``rank``
    scores (blocks keep a sequence's pairs together, so each frame's image
    is read about once); the blocks of all ranks cover every pair once."""
    return slice(rank * num_pairs // world_size,
                 (rank + 1) * num_pairs // world_size)


@METRICS.register_module()
class TemporalConsistencyMetric(BaseMetric):
    """Temporal consistency of per-frame predictions, in percent.

    ``process()`` keeps one compact record per frame (sequence name, frame
    index, image path and the prediction as PNG bytes); ``compute_metrics()``
    regroups the frames by sequence, estimates the flow ``t -> t+1`` between
    consecutive frames from their images and scores every pair with
    :func:`~mmseg_temporal.evaluation.functional.tc_intersect_union`. In a
    distributed run the ranks share that work (see :meth:`evaluate`).

    Metric keys: ``mTC`` (I and U per class pooled over all pairs, then the
    class mean: the authors' released evaluation) and ``mTC_seq`` (class
    mean per sequence, then the mean over sequences: the paper's Eq. 8).

    Args:
        ignore_index: label left out of the comparison.
        flow: config of the flow estimator (``mmseg.registry.MODELS``), whose
            ``forward(img1, img2)`` maps ``(B, 3, H, W)`` RGB in [0, 255] to
            ``(B, 2, H, W)`` flow img1 -> img2. Built on first use.
        flow_provider: replaces the estimator: a callable
            ``(img_path_t, img_path_t1, img_t, img_t1) -> flow`` (or
            ``(flow, valid)``), or a config of one built from ``MODELS``
            (e.g. a flow cache). See :meth:`_flow`.
        output_dir: folder for ``tc_per_pair.csv``, ``tc_per_pair.png`` and
            ``tc_per_class.csv``; None writes nothing.
        compress: store predictions PNG-encoded (lossless, ~10-50x smaller
            to keep and to gather across ranks).
        show_progress: progress bar over frame pairs.
        sequence_prefixes: score only the sequences whose name starts with
            one of these (e.g. ``["Seq05VD"]`` for CamVid); ``None``: all.
        collect_device, prefix: as in ``BaseMetric``.
    """

    def __init__(self,
                 ignore_index: int = 255,
                 flow: Optional[dict] = dict(type='DISFlow'),
                 flow_provider: Optional[Union[Callable, dict]] = None,
                 output_dir: Optional[str] = None,
                 compress: bool = True,
                 show_progress: bool = True,
                 sequence_prefixes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if flow is None and flow_provider is None:
            raise ValueError('TemporalConsistencyMetric needs `flow` (an '
                             'estimator config) or `flow_provider`')
        if flow_provider is not None and not (callable(flow_provider) or
                                              isinstance(flow_provider, dict)):
            raise TypeError('flow_provider must be a callable or a config '
                            f'dict, got {type(flow_provider).__name__}')
        self.ignore_index = ignore_index
        self.flow_cfg = copy.deepcopy(flow)
        self.flow_provider = flow_provider
        self.output_dir = output_dir
        self.compress = compress
        self.show_progress = show_progress
        self.sequence_prefixes = (tuple(sequence_prefixes)
                                  if sequence_prefixes is not None else None)
        self._flow_model = None
        #: Full result of the last ``compute_metrics`` (the dict of
        #: ``tc_aggregate`` plus ``seq_names`` and ``frame_indices``).
        self.last_result: Optional[Dict] = None

    # ------------------------------------------------------------------
    # process
    # ------------------------------------------------------------------
    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        """Stores ``seq_name``, ``frame_index``, ``img_path`` and the
        ``(H, W)`` uint8 prediction of every sample."""
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            for key in ('seq_name', 'frame_index', 'img_path',
                        'pred_sem_seg'):
                if key not in sample:
                    raise KeyError(
                        f'TemporalConsistencyMetric: data sample has no '
                        f'{key!r} (keys: {sorted(sample)}); serve frames of '
                        "sequences (sample_mode='sequence') packed by "
                        "PackSequenceSegInputs (or add 'seq_name', "
                        "'frame_index' to PackSegInputs' meta_keys)")
            pred = sample['pred_sem_seg']['data']
            if isinstance(pred, torch.Tensor):
                pred = pred.detach().cpu().numpy()
            pred = np.asarray(pred)
            if pred.ndim == 3 and pred.shape[0] == 1:
                pred = pred[0]
            if pred.ndim != 2:
                raise ValueError('pred_sem_seg must be (1, H, W) or (H, W), '
                                 f'got {pred.shape} for {sample["img_path"]}')
            if pred.size and (pred.min() < 0 or pred.max() > 255):
                raise ValueError(
                    f'pred_sem_seg of {sample["img_path"]} holds values in '
                    f'[{pred.min()}, {pred.max()}], outside uint8')
            pred = np.ascontiguousarray(pred.astype(np.uint8))
            record = dict(
                seq_name=str(sample['seq_name']),
                frame_index=int(sample['frame_index']),
                img_path=sample['img_path'], shape=pred.shape)
            if self.compress:
                ok, buf = cv2.imencode('.png', pred)
                if not ok:
                    raise RuntimeError('cv2.imencode failed on the prediction '
                                       f'of {sample["img_path"]}')
                record['pred_png'] = buf
            else:
                record['pred'] = pred
            self.results.append(record)

    @staticmethod
    def _decode(record: dict) -> np.ndarray:
        if 'pred' in record:
            return record['pred']
        pred = cv2.imdecode(record['pred_png'], cv2.IMREAD_UNCHANGED)
        if pred is None or pred.shape != tuple(record['shape']):
            raise RuntimeError('could not decode the stored prediction of '
                               f'{record["img_path"]}')
        return pred

    # ------------------------------------------------------------------
    # flow
    # ------------------------------------------------------------------
    def _build_flow_model(self) -> Callable:
        # Importing the flow package registers the estimators in MODELS.
        import mmseg_temporal.models.flow  # noqa: F401
        if self.flow_provider is not None:
            return MODELS.build(copy.deepcopy(self.flow_provider))
        model = MODELS.build(copy.deepcopy(self.flow_cfg))
        if hasattr(model, 'eval'):
            model.eval()
        return model

    def _flow(self, img_path_t: str, img_path_t1: str, img_t: np.ndarray,
              img_t1: np.ndarray) -> FlowResult:
        """Flow from frame t to frame t+1: the hook to replace.

        Args:
            img_path_t, img_path_t1: the frames' files (keys for a cache).
            img_t, img_t1: ``(H, W, 3)`` uint8 RGB images at the prediction's
                resolution.

        Returns:
            ``(2, H, W)`` flow in pixels (channel 0 horizontal), or a tuple
            ``(flow, valid)`` with an ``(H, W)`` bool mask of frame-t pixels
            to score (e.g. from a forward-backward check).
        """
        if callable(self.flow_provider):
            return self.flow_provider(img_path_t, img_path_t1, img_t, img_t1)
        if self._flow_model is None:
            self._flow_model = self._build_flow_model()
        if self.flow_provider is not None:  # built from a config
            return self._flow_model(img_path_t, img_path_t1, img_t, img_t1)
        return flow_of_images(self._flow_model, img_t, img_t1)

    # ------------------------------------------------------------------
    # compute
    # ------------------------------------------------------------------
    @staticmethod
    def _group(results: List[dict]) -> 'OrderedDict[str, List[dict]]':
        """Sequences (sorted by name) of frames sorted by ``frame_index``;
        exact duplicates (sampler padding) dropped."""
        seen: Dict[Tuple[str, int], dict] = {}
        for r in results:
            key = (r['seq_name'], r['frame_index'])
            if key in seen:
                if seen[key]['img_path'] != r['img_path']:
                    raise ValueError(
                        f'sequence {key[0]!r} frame_index {key[1]} appears '
                        f'with two images: {seen[key]["img_path"]} and '
                        f'{r["img_path"]}')
                continue
            seen[key] = r
        groups = defaultdict(list)
        for r in seen.values():
            groups[r['seq_name']].append(r)
        return OrderedDict(
            (name, sorted(groups[name], key=lambda r: r['frame_index']))
            for name in sorted(groups))

    def _class_names(self) -> List[str]:
        if not self.dataset_meta or 'classes' not in self.dataset_meta:
            raise ValueError('TemporalConsistencyMetric needs dataset_meta '
                             "with 'classes' (set by the runner from the "
                             'dataset)')
        return list(self.dataset_meta['classes'])

    def _pairs(self, results: List[dict]) -> Tuple['OrderedDict', List]:
        """The sequences to score and their consecutive frame pairs
        ``(sequence position, record t, record t+1)``, in a deterministic
        order (the same on every rank)."""
        seqs = self._group(results)
        if self.sequence_prefixes is not None:
            # e.g. CamVid: mIoU on the whole test split, TC on Seq05VD only
            seqs = OrderedDict((k, v) for k, v in seqs.items()
                               if str(k).startswith(self.sequence_prefixes))
            if not seqs:
                raise ValueError('TemporalConsistencyMetric: no sequence name '
                                 f'starts with {list(self.sequence_prefixes)}')
        pairs = []
        gaps = 0
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
        return seqs, pairs

    def _score(self, pairs: List, num_classes: int,
               show_progress: bool) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Flow and per-class intersection/union of each pair, in order."""
        stats = []
        bar = ProgressBar(len(pairs)) if (show_progress and pairs) else None
        cache: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
        for _, a, b in pairs:
            entries = {}
            for r in (a, b):
                if r['img_path'] not in cache:
                    pred = self._decode(r)
                    cache[r['img_path']] = (
                        pred, read_rgb(r['img_path'], pred.shape))
                entries[r['img_path']] = cache[r['img_path']]
            # Only frame t+1 is needed again (as frame t of the next pair).
            for key in list(cache):
                if key != b['img_path']:
                    del cache[key]
            pred_t, img_t = entries[a['img_path']]
            pred_t1, img_t1 = entries[b['img_path']]
            if pred_t.shape != pred_t1.shape:
                raise ValueError(
                    f'sequence {a["seq_name"]!r}: predictions of frames '
                    f'{a["frame_index"]} and {b["frame_index"]} differ in '
                    f'size: {pred_t.shape} vs {pred_t1.shape}')
            out = self._flow(a['img_path'], b['img_path'], img_t, img_t1)
            flow, valid = out if isinstance(out, tuple) else (out, None)
            flow_shape = tuple(np.shape(flow))
            if flow_shape != (2, ) + pred_t.shape:
                raise ValueError(
                    f'flow for {a["img_path"]} -> {b["img_path"]} has shape '
                    f'{flow_shape}, expected {(2, ) + pred_t.shape} (the '
                    'prediction resolution)')
            stats.append(tc_intersect_union(pred_t, pred_t1, flow,
                                            num_classes, self.ignore_index,
                                            valid))
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.file.write('\n')  # end the progress bar's line
            bar.file.flush()
        return stats

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Regroups the frames, estimates flows, scores every pair.

        Returns:
            ``dict(mTC=..., mTC_seq=...)`` in percent (2 decimals).
        """
        class_names = self._class_names()
        seqs, pairs = self._pairs(results)
        stats = self._score(pairs, len(class_names), self.show_progress)
        return self._summarise(seqs, pairs, stats, class_names)

    def evaluate(self, size: int) -> Dict[str, float]:
        """``BaseMetric.evaluate``, with the scoring shared by the ranks of a
        distributed run: every rank gets all records (one all-gather; the
        metric's ``collect_device`` is not used), estimates the flows of
        its own block of frame pairs, and rank 0 sums up. A failure on any
        rank is raised on every rank (none is left waiting)."""
        world_size = get_world_size()
        if world_size == 1:
            return super().evaluate(size)
        # One all-gather gives every rank every record (the sampler's
        # padding repeats records; _group drops those, so `size` is not
        # needed to cut them).
        records = [r for part in all_gather_object(self.results)
                   for r in part]
        self.results.clear()
        rank = get_rank()
        try:
            class_names = self._class_names()
            seqs, pairs = self._pairs(records)
            mine = pairs[pair_share(len(pairs), rank, world_size)]
            part = ('ok', self._score(mine, len(class_names),
                                      self.show_progress and rank == 0))
        except Exception as e:  # noqa: BLE001 (re-raised on every rank)
            part = ('error', f'rank {rank}: {type(e).__name__}: {e}')
        parts = all_gather_object(part)
        errors = [msg for kind, msg in parts if kind == 'error']
        if errors:
            raise RuntimeError('TemporalConsistencyMetric failed: '
                               + '; '.join(errors))
        outcome = [None]
        if is_main_process():
            try:
                stats = [st for _, block in parts for st in block]
                metrics = self._summarise(seqs, pairs, stats, class_names)
                if self.prefix:
                    metrics = {f'{self.prefix}/{k}': v
                               for k, v in metrics.items()}
                outcome = [('ok', metrics)]
            except Exception as e:  # noqa: BLE001 (re-raised on every rank)
                outcome = [('error', f'rank 0: {type(e).__name__}: {e}')]
        broadcast_object_list(outcome)
        kind, value = outcome[0]
        if kind == 'error':
            raise RuntimeError(f'TemporalConsistencyMetric failed: {value}')
        return value

    def _summarise(self, seqs: 'OrderedDict', pairs: List, stats: List,
                   class_names: List[str]) -> Dict[str, float]:
        """Aggregates the pairs' statistics, logs the table, writes the
        outputs; sets :attr:`last_result`."""
        logger: MMLogger = MMLogger.get_current_instance()
        num_classes = len(class_names)
        per_seq: List[List] = [[] for _ in seqs]
        frame_ids: List[List[int]] = [[] for _ in seqs]
        for (s, a, _), st in zip(pairs, stats):
            per_seq[s].append(st)
            frame_ids[s].append(a['frame_index'])
        res = tc_aggregate(per_seq)
        if len(res['per_class']) == 0:
            res['per_class'] = np.full(num_classes, np.nan)
        res['seq_names'] = list(seqs)
        res['frame_indices'] = frame_ids
        self.last_result = res
        if res['num_pairs'] == 0:
            print_log('TemporalConsistencyMetric: no consecutive frame pair '
                      'to score (are sequences served in full?)', logger,
                      level=30)

        table = PrettyTable()
        table.add_column('Class', class_names)
        table.add_column('TC', [round(float(v), 2) for v in res['per_class']])
        print_log('per class temporal consistency:', logger)
        print_log('\n' + table.get_string(), logger=logger)
        print_log(f'TC over {res["num_pairs"]} frame pairs of {len(seqs)} '
                  f'sequences: mTC {res["mTC"]:.2f} (I/U pooled over all '
                  f'pairs), mTC_seq {res["mTC_seq"]:.2f} (per sequence, then '
                  'averaged: Eq. 8)', logger)
        if self.output_dir is not None:
            self._write_outputs(res, class_names, logger)
        return dict(mTC=float(np.round(res['mTC'], 2)),
                    mTC_seq=float(np.round(res['mTC_seq'], 2)))

    # ------------------------------------------------------------------
    # outputs
    # ------------------------------------------------------------------
    def _write_outputs(self, res: Dict, class_names: List[str],
                       logger: MMLogger) -> None:
        """Writes ``tc_per_pair.csv`` (seq_name, frame_index of frame t, tc),
        ``tc_per_class.csv`` and ``tc_per_pair.png``."""
        mkdir_or_exist(self.output_dir)
        csv_path = osp.join(self.output_dir, 'tc_per_pair.csv')
        with open(csv_path, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(['seq_name', 'frame_index', 'tc'])
            for name, ids, curve in zip(res['seq_names'],
                                        res['frame_indices'],
                                        res['per_pair']):
                for i, v in zip(ids, curve):
                    w.writerow([name, i, f'{v:.4f}'])
        with open(osp.join(self.output_dir, 'tc_per_class.csv'), 'w',
                  newline='') as f:
            w = csv.writer(f)
            w.writerow(['class', 'tc', 'intersect', 'union'])
            inter = res['intersect'] if len(res['intersect']) else [0] * len(
                class_names)
            union = res['union'] if len(res['union']) else [0] * len(
                class_names)
            for c, name in enumerate(class_names):
                w.writerow([name, f'{res["per_class"][c]:.4f}',
                            int(inter[c]), int(union[c])])
        png_path = osp.join(self.output_dir, 'tc_per_pair.png')
        self._plot(res, png_path)
        print_log(f'TC curves written to {csv_path} and {png_path}', logger)

    @staticmethod
    def _plot(res: Dict, path: str) -> None:
        # Object-oriented Agg canvas: no global backend switch.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
        fig = Figure(figsize=(8, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for name, ids, curve in zip(res['seq_names'], res['frame_indices'],
                                    res['per_pair']):
            if len(curve):
                ax.plot(ids, curve, marker='.', linewidth=1, label=name)
        if np.isfinite(res['mTC']):
            ax.axhline(res['mTC'], color='k', linestyle='--', linewidth=1,
                       label=f'mTC {res["mTC"]:.2f}')
        ax.set_xlabel('frame index t (pair t, t+1)')
        ax.set_ylabel('TC (%)')
        ax.set_title('Temporal consistency per frame pair')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if len(res['seq_names']) <= 10:
            ax.legend(fontsize='small', loc='best')
        fig.tight_layout()
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        fig.savefig(path)
