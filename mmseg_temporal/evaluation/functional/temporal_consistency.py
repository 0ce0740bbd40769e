"""Temporal consistency (TC) of video segmentation, appendix B.3 (Eq. 7-8).

For a frame pair ``(t, t+1)`` the prediction of frame ``t+1`` is warped
back to frame ``t`` with the flow ``t -> t+1`` (nearest neighbour, so no
class is invented): ``Q^_{t+1}(p) = Q_{t+1}(p + flow(p))``, and compared
with ``Q_t`` class by class like an IoU (Eq. 7). A pixel is left out when

* its source ``p + flow(p)`` (rounded) falls outside the frame,
* ``Q_t(p)`` or ``Q^_{t+1}(p)`` is ``ignore_index``,
* an optional ``valid`` mask is False there (the exact visibility mask of
  synthetic data, or a forward-backward occlusion check).

Figures (percent), over a class set ``classes`` fixed before scoring:

* ``mTC``: intersection and union per class summed over all pairs of all
  sequences, IoU per class, mean over ``classes``; a class of the set with
  zero union in every pair (never predicted) scores 0, as in the authors'
  released evaluation (``tool/eval_tc.py``, every class with a ``1e-10``
  guard). Without ``classes`` the mean runs over the classes that occur
  (non-zero union): a model can then gain by never predicting a hard
  class, so compare models only over one fixed set.
* ``mTC_seq``: the same per sequence, then averaged over sequences with
  equal weight (the paper's Eq. 8); per sequence over ``seq_classes[s]``
  when given (the metric passes the set's classes in that sequence's
  ground truth), else over ``classes``.
* ``mTC_pred``: the mean of the per-class TC over the classes of the set
  that the predictions hold somewhere (flicker apart from recognition; for
  the classes *every* compared model predicts, ``mTC_shared``, see
  :func:`~.class_sets.shared_class_means`).

The warping is :func:`mmseg_temporal.flow.ops.flow_warp`, the one
warping function of the project.
"""
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch

from mmseg_temporal.flow.ops import flow_warp

from .class_sets import check_class_set, class_mean, classes_in
from .label_maps import ArrayLike, as_flow, as_label_map, as_mask, check_values

__all__ = ['tc_intersect_union', 'tc_aggregate', 'temporal_consistency',
           'predicted_class_mean']

PairStats = Tuple[np.ndarray, np.ndarray]


def tc_intersect_union(pred_t: ArrayLike,
                       pred_t1: ArrayLike,
                       flow: ArrayLike,
                       num_classes: int,
                       ignore_index: int = 255,
                       valid: Optional[ArrayLike] = None,
                       names: Tuple[str, str] = ('pred_t', 'pred_t1')
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-class intersection and union of one frame pair (Eq. 7).

    Args:
        pred_t: ``(H, W)`` integer prediction of frame t.
        pred_t1: ``(H, W)`` integer prediction of frame t+1.
        flow: ``(2, H, W)`` flow from frame t to frame t+1, pixels, channel 0
            horizontal; ``pred_t1`` is read at ``round(p + flow(p))``.
        num_classes: K.
        ignore_index: label left out of the comparison (either map).
        valid: optional ``(H, W)`` bool mask of frame-t pixels to use, anded
            with the in-frame mask of the warp.
        names: what the two maps are called in errors (the labels' files
            when ground truth is scored).

    Returns:
        ``(intersect, union)``: int64 arrays of shape ``(K,)``, pixel counts.
    """
    a = as_label_map(pred_t, names[0])
    b = as_label_map(pred_t1, names[1])
    f = as_flow(flow, 'flow')
    if a.shape != b.shape or tuple(f.shape[1:]) != tuple(a.shape):
        raise ValueError(f'tc_intersect_union: shapes differ: {names[0]} '
                         f'{tuple(a.shape)}, {names[1]} {tuple(b.shape)}, flow '
                         f'{tuple(f.shape)} (expected (H, W), (H, W), '
                         '(2, H, W))')
    check_values(a, num_classes, ignore_index, names[0])
    check_values(b, num_classes, ignore_index, names[1])
    warped, inside = flow_warp(b[None, None], f[None], mode='nearest')
    warped = warped[0, 0]
    mask = inside[0, 0]
    if valid is not None:
        v = as_mask(valid, 'valid')
        if tuple(v.shape) != tuple(a.shape):
            raise ValueError(f'valid has shape {tuple(v.shape)}, expected '
                             f'{tuple(a.shape)} like pred_t')
        mask = mask & v
    if ignore_index is not None:
        mask = mask & (a != ignore_index) & (warped != ignore_index)
    a = a[mask]
    w = warped[mask]
    area_a = torch.bincount(a, minlength=num_classes)
    area_w = torch.bincount(w, minlength=num_classes)
    intersect = torch.bincount(a[a == w], minlength=num_classes)
    union = area_a + area_w - intersect
    return intersect.numpy().astype(np.int64), union.numpy().astype(np.int64)


def _class_iou(intersect: np.ndarray, union: np.ndarray,
               classes: Optional[np.ndarray]) -> Tuple[np.ndarray, float]:
    """Per-class IoU in percent and its mean.

    ``classes=None``: NaN where the union is 0, mean over the other classes.
    Otherwise: the classes of ``classes`` score ``I / U`` (0 when U is 0),
    the others NaN, and the mean runs over ``classes``.
    """
    intersect = np.asarray(intersect, dtype=np.float64)
    union = np.asarray(union, dtype=np.float64)
    per_class = np.full(union.shape, np.nan)
    if classes is None:
        sel = union > 0
    else:
        sel = np.zeros(union.shape, bool)
        sel[classes] = True
    per_class[sel] = np.divide(intersect[sel], union[sel],
                               out=np.zeros(int(sel.sum())),
                               where=union[sel] > 0) * 100.0
    mean = float(per_class[sel].mean()) if sel.any() else float('nan')
    return per_class, mean


def _pair_value(intersect: np.ndarray, union: np.ndarray,
                classes: Optional[np.ndarray]) -> float:
    """TC of one pair for curves: mean over the classes (of the set) with
    a non-zero union in the pair; NaN without any."""
    per_class, mean = _class_iou(intersect, union, None)
    if classes is None:
        return mean
    vals = per_class[classes]
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else float('nan')


def _sum_sequence(seq: Sequence[PairStats], s: int,
                  num_classes: Optional[int]) -> Tuple:
    """Checks one sequence's ``(intersect, union)`` pairs and sums them:
    ``(I, U, [(I_k, U_k), ...])``; ``I`` is None without pairs."""
    pairs, seq_i, seq_u = [], None, None
    for k, (inter, uni) in enumerate(seq):
        inter = np.asarray(inter, dtype=np.int64)
        uni = np.asarray(uni, dtype=np.int64)
        if inter.ndim != 1 or inter.shape != uni.shape:
            raise ValueError(f'pair_stats[{s}][{k}]: intersect and union '
                             'must be (K,) arrays of one shape, got '
                             f'{inter.shape} and {uni.shape}')
        if num_classes is not None and inter.shape[0] != num_classes:
            raise ValueError(f'pair_stats[{s}][{k}] has {inter.shape[0]} '
                             f'classes, earlier pairs {num_classes}')
        num_classes = inter.shape[0]
        pairs.append((inter, uni))
        seq_i = inter.copy() if seq_i is None else seq_i + inter
        seq_u = uni.copy() if seq_u is None else seq_u + uni
    return seq_i, seq_u, pairs


def tc_aggregate(pair_stats: Sequence[Sequence[PairStats]],
                 classes: Optional[Iterable[int]] = None,
                 seq_classes: Optional[Sequence[Iterable[int]]] = None
                 ) -> Dict:
    """Turns per-pair ``(intersect, union)`` counts into the TC figures.

    Args:
        pair_stats: one list per sequence of ``(intersect, union)`` tuples
            (each ``(K,)``), one per frame pair in time order, as returned by
            :func:`tc_intersect_union`. A sequence may have no pair.
        classes: the class set the means run over (a class of it with zero
            union scores 0); None: the classes with a non-zero union.
        seq_classes: per sequence, the set of its ``mTC_seq`` term (default
            ``classes``, where a class absent from a sequence scores 0 in
            its term: pass each sequence's ground-truth classes instead).

    Returns:
        dict, all figures in percent:

        * ``mTC`` (float): per-class I and U summed over every pair of every
          sequence, IoU per class, mean over the class set.
        * ``mTC_seq`` (float): per sequence the same class mean over that
          sequence's pairs, then the mean over the sequences with a finite
          one (paper, Eq. 8).
        * ``per_class`` ``(K,)``: TC per class from the summed counts; NaN
          only outside the class set (without ``classes``: where the union
          is zero everywhere).
        * ``per_seq`` ``(S,)``: TC of each sequence, NaN without pairs.
        * ``per_pair``: list (per sequence) of ``(T_s - 1,)`` arrays: the
          mean over the classes (of the set) with a non-zero union in that
          pair, NaN for a pair without any (a curve, not a score).
        * ``intersect``, ``union`` ``(K,)`` int64 totals; ``num_pairs``;
          ``classes``: the class set (int64 array, or None).
        Means over nothing are NaN.
    """
    if seq_classes is not None and len(seq_classes) != len(pair_stats):
        raise ValueError(f'seq_classes has {len(seq_classes)} entries for '
                         f'{len(pair_stats)} sequences')
    sums = []
    num_classes = None
    for s, seq in enumerate(pair_stats):
        sums.append(_sum_sequence(seq, s, num_classes))
        if sums[-1][0] is not None:
            num_classes = sums[-1][0].shape[0]
    if num_classes is None:
        return dict(mTC=float('nan'), mTC_seq=float('nan'),
                    per_class=np.zeros(0), per_seq=np.full(len(sums), np.nan),
                    per_pair=[np.zeros(0) for _ in sums],
                    intersect=np.zeros(0, np.int64),
                    union=np.zeros(0, np.int64), num_pairs=0,
                    classes=None if classes is None else
                    np.asarray(list(classes), np.int64))
    ids = None if classes is None else check_class_set(classes, num_classes)
    per_seq, per_pair = [], []
    for s, (seq_i, seq_u, pairs) in enumerate(sums):
        own = ids if seq_classes is None else check_class_set(
            seq_classes[s], num_classes)
        per_pair.append(np.asarray([_pair_value(i, u, ids) for i, u in pairs],
                                   dtype=np.float64))
        per_seq.append(float('nan') if seq_i is None else
                       _class_iou(seq_i, seq_u, own)[1])
    total_i = sum(si for si, _, _ in sums if si is not None)
    total_u = sum(su for _, su, _ in sums if su is not None)
    per_class, m_tc = _class_iou(total_i, total_u, ids)
    seq_arr = np.asarray(per_seq, dtype=np.float64)
    finite = np.isfinite(seq_arr)
    return dict(mTC=m_tc,
                mTC_seq=float(seq_arr[finite].mean()) if finite.any()
                else float('nan'),
                per_class=per_class, per_seq=seq_arr, per_pair=per_pair,
                intersect=total_i, union=total_u,
                num_pairs=sum(len(p) for _, _, p in sums), classes=ids)


def _check_lengths(preds, flows, valids) -> None:
    if len(preds) != len(flows):
        raise ValueError(f'preds has {len(preds)} sequences but flows has '
                         f'{len(flows)}')
    if valids is not None and len(valids) != len(preds):
        raise ValueError(f'preds has {len(preds)} sequences but valids has '
                         f'{len(valids)}')
    for s, (seq_p, seq_f) in enumerate(zip(preds, flows)):
        if len(seq_f) != max(len(seq_p) - 1, 0):
            raise ValueError(f'sequence {s}: {len(seq_p)} predictions need '
                             f'{max(len(seq_p) - 1, 0)} flows (t -> t+1), '
                             f'got {len(seq_f)}')
        if valids is not None and len(valids[s]) != len(seq_f):
            raise ValueError(f'sequence {s}: {len(seq_f)} flows but '
                             f'{len(valids[s])} valid masks')


def temporal_consistency(preds: Sequence[Sequence[ArrayLike]],
                         flows: Sequence[Sequence[ArrayLike]],
                         num_classes: int,
                         ignore_index: int = 255,
                         valids: Optional[Sequence[Sequence[ArrayLike]]] = None,
                         classes: Optional[Iterable[int]] = None,
                         seq_classes: Optional[Sequence[Iterable[int]]] = None
                         ) -> Dict:
    """TC of a set of predicted sequences (appendix B.3, Eq. 7-8).

    Args:
        preds: one list per sequence of ``(H, W)`` integer label maps
            (numpy or torch) in time order; sizes may differ between
            sequences.
        flows: matching lists of ``(2, H, W)`` flows from frame t to t+1
            (pixels, channel 0 horizontal): ``len(flows[s]) ==
            len(preds[s]) - 1``.
        num_classes: K; values must lie in ``[0, K)`` or be ``ignore_index``.
        ignore_index: label left out in either map.
        valids: optional matching lists of ``(H, W)`` bool masks of frame-t
            pixels to compare, anded with the in-frame mask. With exact flow,
            pass the visibility (non-occlusion) mask to compare only pixels
            seen in both frames: then ground truth scores exactly 100.
        classes: the class set to average over, fixed before scoring and
            the same for every compared model (e.g. the classes of the
            ground truth); a class of it never predicted scores 0. None:
            the classes that occur (not for comparing models).
        seq_classes: per sequence, the class set of its ``mTC_seq`` term
            (default ``classes``; pass the classes of each sequence's ground
            truth, as the metric does, when sequences differ in content).

    Returns:
        The dict of :func:`tc_aggregate` (``mTC``, ``mTC_seq``,
        ``per_class``, ``per_seq``, ``per_pair``, ...) plus
        ``predicted_classes`` (the class ids the predictions hold) and
        ``mTC_pred`` (the mean of ``per_class`` over the predicted classes
        of the set), in percent.
    """
    _check_lengths(preds, flows, valids)
    stats = []
    predicted = set()
    for s, (seq_p, seq_f) in enumerate(zip(preds, flows)):
        seq_v = None if valids is None else valids[s]
        seq_stats = []
        for t in range(len(seq_f)):
            try:
                seq_stats.append(
                    tc_intersect_union(
                        seq_p[t], seq_p[t + 1], seq_f[t], num_classes,
                        ignore_index,
                        None if seq_v is None else seq_v[t]))
            except ValueError as e:
                raise ValueError(f'sequence {s}, pair ({t}, {t + 1}): {e}') \
                    from e
        for p in (seq_p if len(seq_p) > 1 else []):  # scored frames only
            predicted.update(classes_in(as_label_map(p, 'preds'), num_classes,
                                        ignore_index).tolist())
        stats.append(seq_stats)
    res = tc_aggregate(stats, classes, seq_classes)
    res['predicted_classes'] = np.asarray(sorted(predicted), np.int64)
    res['mTC_pred'] = predicted_class_mean(res, res['predicted_classes'])
    return res


def predicted_class_mean(res: Dict, predicted: Iterable[int]) -> float:
    """``mTC_pred`` of one TC result: the mean of its ``per_class`` over
    the ``predicted`` classes inside its class set (``res['classes']``;
    without a set, those with a finite per-class TC)."""
    per_class = res['per_class']
    ids = [int(c) for c in predicted if int(c) < len(per_class)]
    if res.get('classes') is not None:
        ids = sorted(set(ids) & set(res['classes'].tolist()))
    else:
        ids = [c for c in ids if np.isfinite(per_class[c])]
    return class_mean(per_class, ids)
