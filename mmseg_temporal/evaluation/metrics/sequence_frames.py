"""Frames of video sequences in a stock MMSeg test loop: the compact record
each frame leaves (``process``) and how records become sequences again.

The dataset serves every frame of every sequence, one frame per sample,
with ``seq_name`` and ``frame_index`` in the metainfo (pack with
``PackSequenceSegInputs``, or add them to ``PackSegInputs(meta_keys=...)``).
Frames may arrive in any order and be split over ranks; a sampler's padding
repeats some: :func:`group_sequences` undoes all three. Used by
``TemporalConsistencyMetric`` and ``VideoConsistencyMetric``.
"""
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement

from ...utils.labels import check_label_ids
from ..distributed import gather_to_every_rank, run_on_every_rank

__all__ = ['SequenceFrameMetric', 'frame_record', 'batch_records',
           'decode_map', 'group_sequences', 'consecutive_runs']

_REQUIRED = ('seq_name', 'frame_index', 'img_path', 'pred_sem_seg')


def _uint8_map(data, what: str, img_path: str) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f'{what} must be (1, H, W) or (H, W), got '
                         f'{arr.shape} for {img_path}')
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f'{what} of {img_path} holds values in '
                         f'[{arr.min()}, {arr.max()}], outside uint8')
    return np.ascontiguousarray(arr.astype(np.uint8))


def _store(record: dict, key: str, arr: np.ndarray, compress: bool) -> None:
    if not compress:
        arr.setflags(write=False)  # shared by the metrics of a test loop
        record[key] = arr
        return
    ok, buf = cv2.imencode('.png', arr)
    if not ok:
        raise RuntimeError(f'cv2.imencode failed on the {key} of '
                           f'{record["img_path"]}')
    buf.setflags(write=False)
    record[f'{key}_png'] = buf


def frame_record(sample, metric: str, compress: bool = True,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255) -> dict:
    """The compact record of one predicted frame.

    Keys: ``seq_name``, ``frame_index``, ``img_path``, ``shape``, the
    prediction (``pred_png``: lossless PNG bytes, ~10-50x smaller to keep
    and to gather; ``pred`` with ``compress=False``), ``pred_classes`` (its
    values), and where the frame has a label (``gt_sem_seg``): the label
    (``label_png`` / ``label``) and ``gt_classes``. With ``num_classes``
    the label's ids are checked (a ``DataError`` names its file).
    """
    if isinstance(sample, BaseDataElement):
        sample = sample.to_dict()
    for key in _REQUIRED:
        if key not in sample:
            raise KeyError(
                f'{metric}: data sample has no {key!r} (keys: '
                f'{sorted(sample)}); serve frames of sequences '
                "(sample_mode='sequence') packed by PackSequenceSegInputs "
                "(or add 'seq_name', 'frame_index' to PackSegInputs' "
                'meta_keys)')
    path = sample['img_path']
    pred = _uint8_map(sample['pred_sem_seg']['data'], 'pred_sem_seg', path)
    record = dict(seq_name=str(sample['seq_name']),
                  frame_index=int(sample['frame_index']), img_path=path,
                  shape=pred.shape, pred_classes=np.unique(pred))
    _store(record, 'pred', pred, compress)
    if 'gt_sem_seg' in sample:
        if num_classes is not None:
            check_label_ids(sample['gt_sem_seg']['data'].cpu(), num_classes,
                            ignore_index, sample.get('seg_map_path')
                            or f'of {path}')
        label = _uint8_map(sample['gt_sem_seg']['data'], 'gt_sem_seg', path)
        if label.shape != pred.shape:
            raise ValueError(f'{metric}: the label of {path} is '
                             f'{label.shape}, its prediction {pred.shape}')
        record['gt_classes'] = np.unique(label)
        _store(record, 'label', label, compress)
    return record


# The one frame store of a test loop: MMEngine's Evaluator hands the same
# list of data samples to every metric, so the sequence metrics (TC, VC)
# encode each frame once and share its arrays.
_LAST_BATCH: Dict[str, object] = dict(samples=None, key=None, records=None)


def batch_records(data_samples: Sequence, metric: str, compress: bool = True,
                  num_classes: Optional[int] = None,
                  ignore_index: int = 255) -> List[dict]:
    """:func:`frame_record` of every sample of a batch, made once per batch
    and settings: a second metric processing the same ``data_samples`` list
    gets its own record dicts holding the same (read-only) arrays."""
    key = (compress, num_classes, ignore_index)
    last = _LAST_BATCH['samples']
    same = last is not None and len(last) == len(data_samples) and all(
        a is b for a, b in zip(last, data_samples))  # the very same samples
    if not same or _LAST_BATCH['key'] != key:
        records = [frame_record(s, metric, compress, num_classes, ignore_index)
                   for s in data_samples]
        _LAST_BATCH.update(samples=tuple(data_samples), key=key, records=records)
    return [dict(r) for r in _LAST_BATCH['records']]


def release_batch_records() -> None:
    """Forgets the last batch (called when a metric evaluates)."""
    _LAST_BATCH.update(samples=None, key=None, records=None)


def decode_map(record: dict, key: str = 'pred') -> Optional[np.ndarray]:
    """The ``(H, W)`` uint8 ``pred`` or ``label`` of a record (None for a
    frame without a label)."""
    if key in record:
        return record[key]
    if f'{key}_png' not in record:
        return None
    arr = cv2.imdecode(record[f'{key}_png'], cv2.IMREAD_UNCHANGED)
    if arr is None or arr.shape != tuple(record['shape']):
        raise RuntimeError(f'could not decode the stored {key} of '
                           f'{record["img_path"]}')
    return arr


def group_sequences(records: List[dict],
                    prefixes: Optional[Sequence[str]] = None
                    ) -> 'OrderedDict[str, List[dict]]':
    """Sequences (sorted by name) of records sorted by ``frame_index``;
    exact duplicates (sampler padding) dropped; only the sequences whose
    name starts with one of ``prefixes`` when given."""
    seen: Dict[Tuple[str, int], dict] = {}
    for r in records:
        key = (r['seq_name'], r['frame_index'])
        if key in seen:
            if seen[key]['img_path'] != r['img_path']:
                raise ValueError(
                    f'sequence {key[0]!r} frame_index {key[1]} appears with '
                    f'two images: {seen[key]["img_path"]} and '
                    f'{r["img_path"]}')
            continue
        seen[key] = r
    groups = defaultdict(list)
    for r in seen.values():
        groups[r['seq_name']].append(r)
    names = sorted(groups)
    if prefixes is not None:
        names = [n for n in names if n.startswith(tuple(prefixes))]
        if not names:
            raise ValueError('no sequence name starts with '
                             f'{list(prefixes)} (sequences: '
                             f'{sorted(groups)[:5]})')
    return OrderedDict(
        (n, sorted(groups[n], key=lambda r: r['frame_index'])) for n in names)


def consecutive_runs(frames: List[dict]) -> List[List[dict]]:
    """Splits a sequence's sorted records where ``frame_index`` jumps (a
    frame missing): runs of consecutive frames."""
    runs: List[List[dict]] = []
    for r in frames:
        if runs and r['frame_index'] - runs[-1][-1]['frame_index'] == 1:
            runs[-1].append(r)
        else:
            runs.append([r])
    return runs


class SequenceFrameMetric(BaseMetric):
    """Base of the metrics over the frames of sequences: ``process`` keeps
    one :func:`frame_record` per frame (made once per batch for all the
    sequence metrics of a test loop, :func:`batch_records`); subclasses
    score the sequences of :func:`group_sequences`.

    ``evaluate`` gives every rank all records (one ``all_gather_object``
    on the process group's device, so there is no ``collect_device``
    option; the sampler's padding repeats are dropped by the regrouping)
    and runs :meth:`_compute` on every rank, so
    a failure is raised on every rank instead of leaving the others waiting
    for rank 0. By default :meth:`_compute` is ``compute_metrics``.

    Args:
        compress: store predictions and labels PNG-encoded.
        sequence_prefixes: score only the sequences whose name starts with
            one of these (e.g. ``["Seq05VD"]`` for CamVid); ``None``: all.
        prefix: as in ``BaseMetric``.
    """

    def __init__(self, compress: bool = True,
                 sequence_prefixes: Optional[Sequence[str]] = None,
                 prefix: Optional[str] = None) -> None:
        super().__init__(prefix=prefix)
        self.compress = compress
        self.sequence_prefixes = (tuple(sequence_prefixes)
                                  if sequence_prefixes is not None else None)

    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        """Stores the compact record of every sample (labels checked
        against the dataset's classes)."""
        classes = (self.dataset_meta or {}).get('classes')
        self.results.extend(batch_records(
            data_samples, type(self).__name__, self.compress,
            None if classes is None else len(classes),
            getattr(self, 'ignore_index', 255)))

    def evaluate(self, size: int) -> Dict[str, float]:
        """The metrics of all ranks' records (``size`` is not needed)."""
        release_batch_records()
        records = gather_to_every_rank(self.results)
        self.results.clear()
        metrics = self._compute(records, get_rank(), get_world_size())
        if self.prefix:
            metrics = {f'{self.prefix}/{k}': v for k, v in metrics.items()}
        return metrics

    def _compute(self, records: List[dict], rank: int,
                 world: int) -> Dict[str, float]:
        """Scores all records on every rank (raising on every rank)."""
        return run_on_every_rank(type(self).__name__, self.compute_metrics,
                                 records)

    def _sequences(self, records: List[dict]) -> 'OrderedDict':
        try:
            return group_sequences(records, self.sequence_prefixes)
        except ValueError as e:
            raise ValueError(f'{type(self).__name__}: {e}') from e

    def _class_names(self) -> List[str]:
        if not self.dataset_meta or 'classes' not in self.dataset_meta:
            raise ValueError(f'{type(self).__name__} needs dataset_meta '
                             "with 'classes' (set by the runner from the "
                             'dataset)')
        return list(self.dataset_meta['classes'])
