"""Temporal consistency (TC) of video segmentation, appendix B.3 (Eq. 7-8).

For a frame pair ``(t, t+1)`` the prediction of frame ``t+1`` is warped
back to frame ``t`` with the flow ``t -> t+1`` (nearest neighbour, so no
class is invented): ``Q^_{t+1}(p) = Q_{t+1}(p + flow(p))``, and compared
with ``Q_t`` class by class like an IoU (Eq. 7). A pixel is left out when

* its source ``p + flow(p)`` (rounded) falls outside the frame,
* ``Q_t(p)`` or ``Q^_{t+1}(p)`` is ``ignore_index``,
* an optional ``valid`` mask is False there (e.g. the exact visibility mask
  of synthetic data, or an occlusion check).

Two aggregates are reported (both in percent):

* ``mTC``: intersection and union per class summed over all pairs of all
  sequences, IoU per class, mean over classes whose union is non-zero. This
  is what the authors' released evaluation (``tool/eval_tc.py``) computes
  (it averages over *all* classes, with a ``1e-10`` guard; here classes that
  never occur are left out, as MMSeg's ``IoUMetric`` does).
* ``mTC_seq``: the same per-class IoU and class mean computed within each
  sequence, then averaged over sequences with equal weight: the paper's
  Eq. 8. Long sequences weigh more in ``mTC`` than in ``mTC_seq``.

The warping is :func:`mmseg_temporal.models.flow.warp.flow_warp`, the one
warping function of the project.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from mmseg_temporal.models.flow.warp import flow_warp

__all__ = ['tc_intersect_union', 'tc_aggregate', 'temporal_consistency']

ArrayLike = Union[np.ndarray, torch.Tensor]
PairStats = Tuple[np.ndarray, np.ndarray]


def _as_label_map(x: ArrayLike, name: str) -> torch.Tensor:
    """``(H, W)`` integer numpy/torch -> int64 CPU tensor."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor)
                        else x).detach().cpu()
    if t.dim() != 2:
        raise ValueError(f'{name} must be an (H, W) label map, got shape '
                         f'{tuple(t.shape)}')
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f'{name} must hold integer class ids, got dtype '
                         f'{t.dtype}')
    return t.to(torch.int64)


def _as_flow(flow: ArrayLike, name: str) -> torch.Tensor:
    """``(2, H, W)`` numpy/torch -> float CPU tensor (float64 kept)."""
    t = torch.as_tensor(np.asarray(flow) if not isinstance(flow, torch.Tensor)
                        else flow).detach().cpu()
    if t.dim() != 3 or t.shape[0] != 2:
        raise ValueError(f'{name} must be a (2, H, W) flow (channel 0 '
                         f'horizontal), got shape {tuple(t.shape)}')
    if not t.is_floating_point():
        t = t.to(torch.float32)
    return t


def _as_mask(valid: ArrayLike, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(valid) if not isinstance(
        valid, torch.Tensor) else valid).detach().cpu()
    if t.dim() != 2:
        raise ValueError(f'{name} must be an (H, W) bool mask, got shape '
                         f'{tuple(t.shape)}')
    return t.to(torch.bool)


def _check_values(label: torch.Tensor, num_classes: int, ignore_index: int,
                  name: str) -> None:
    bad = (label < 0) | (label >= num_classes)
    if ignore_index is not None:
        bad &= label != ignore_index
    if bool(bad.any()):
        vals = torch.unique(label[bad])[:5].tolist()
        raise ValueError(f'{name} holds class ids outside [0, {num_classes}) '
                         f'that are not ignore_index={ignore_index}: {vals}')


def tc_intersect_union(pred_t: ArrayLike,
                       pred_t1: ArrayLike,
                       flow: ArrayLike,
                       num_classes: int,
                       ignore_index: int = 255,
                       valid: Optional[ArrayLike] = None
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

    Returns:
        ``(intersect, union)``: int64 arrays of shape ``(K,)``, pixel counts.
    """
    a = _as_label_map(pred_t, 'pred_t')
    b = _as_label_map(pred_t1, 'pred_t1')
    f = _as_flow(flow, 'flow')
    if a.shape != b.shape or tuple(f.shape[1:]) != tuple(a.shape):
        raise ValueError('tc_intersect_union: shapes differ: pred_t '
                         f'{tuple(a.shape)}, pred_t1 {tuple(b.shape)}, flow '
                         f'{tuple(f.shape)} (expected (H, W), (H, W), '
                         '(2, H, W))')
    _check_values(a, num_classes, ignore_index, 'pred_t')
    _check_values(b, num_classes, ignore_index, 'pred_t1')
    warped, inside = flow_warp(b[None, None], f[None], mode='nearest')
    warped = warped[0, 0]
    mask = inside[0, 0]
    if valid is not None:
        v = _as_mask(valid, 'valid')
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


def _mean_iou(intersect: np.ndarray, union: np.ndarray
              ) -> Tuple[np.ndarray, float]:
    """Per-class IoU in percent (NaN where union is 0) and its nan-mean."""
    intersect = np.asarray(intersect, dtype=np.float64)
    union = np.asarray(union, dtype=np.float64)
    per_class = np.full(union.shape, np.nan)
    present = union > 0
    per_class[present] = intersect[present] / union[present] * 100.0
    mean = float(per_class[present].mean()) if present.any() else float('nan')
    return per_class, mean


def tc_aggregate(pair_stats: Sequence[Sequence[PairStats]]) -> Dict:
    """Turns per-pair ``(intersect, union)`` counts into the TC figures.

    Args:
        pair_stats: one list per sequence of ``(intersect, union)`` tuples
            (each ``(K,)``), one per frame pair in time order, as returned by
            :func:`tc_intersect_union`. A sequence may have no pair.

    Returns:
        dict, all figures in percent:

        * ``mTC`` (float): per-class I and U summed over every pair of every
          sequence, IoU per class, mean over classes with a non-zero union.
        * ``mTC_seq`` (float): per sequence the same class mean over that
          sequence's pairs, then the mean over sequences that have at least
          one pair with a non-zero union (paper, Eq. 8).
        * ``per_class`` ``(K,)``: TC per class from the summed counts, NaN for
          a class that never occurs (zero union everywhere).
        * ``per_seq`` ``(S,)``: TC of each sequence, NaN without pairs.
        * ``per_pair``: list (per sequence) of ``(T_s - 1,)`` arrays: the
          mean over the classes present in that pair (non-zero union in the
          pair; absent classes are left out, not counted as 0 or 100); NaN
          for a pair without any usable pixel.
        * ``intersect``, ``union`` ``(K,)`` int64 totals; ``num_pairs``.
        Means over nothing are NaN.
    """
    total_i = total_u = None
    per_seq: List[float] = []
    per_pair: List[np.ndarray] = []
    num_pairs = 0
    for s, seq in enumerate(pair_stats):
        seq_i = seq_u = None
        curve = []
        for k, (inter, uni) in enumerate(seq):
            inter = np.asarray(inter, dtype=np.int64)
            uni = np.asarray(uni, dtype=np.int64)
            if inter.ndim != 1 or inter.shape != uni.shape:
                raise ValueError(f'pair_stats[{s}][{k}]: intersect and union '
                                 'must be (K,) arrays of one shape, got '
                                 f'{inter.shape} and {uni.shape}')
            if total_i is not None and inter.shape != total_i.shape:
                raise ValueError(f'pair_stats[{s}][{k}] has {inter.shape[0]} '
                                 f'classes, earlier pairs {total_i.shape[0]}')
            curve.append(_mean_iou(inter, uni)[1])
            seq_i = inter.copy() if seq_i is None else seq_i + inter
            seq_u = uni.copy() if seq_u is None else seq_u + uni
            total_i = inter.copy() if total_i is None else total_i + inter
            total_u = uni.copy() if total_u is None else total_u + uni
            num_pairs += 1
        per_pair.append(np.asarray(curve, dtype=np.float64))
        per_seq.append(float('nan') if seq_i is None else
                       _mean_iou(seq_i, seq_u)[1])
    if total_i is None:
        per_class, m_tc = np.zeros(0), float('nan')
        total_i = total_u = np.zeros(0, np.int64)
    else:
        per_class, m_tc = _mean_iou(total_i, total_u)
    seq_arr = np.asarray(per_seq, dtype=np.float64)
    finite = np.isfinite(seq_arr)
    m_tc_seq = float(seq_arr[finite].mean()) if finite.any() else float('nan')
    return dict(mTC=m_tc, mTC_seq=m_tc_seq, per_class=per_class,
                per_seq=seq_arr, per_pair=per_pair, intersect=total_i,
                union=total_u, num_pairs=num_pairs)


def temporal_consistency(preds: Sequence[Sequence[ArrayLike]],
                         flows: Sequence[Sequence[ArrayLike]],
                         num_classes: int,
                         ignore_index: int = 255,
                         valids: Optional[Sequence[Sequence[ArrayLike]]] = None
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

    Returns:
        The dict of :func:`tc_aggregate` (``mTC``, ``mTC_seq``,
        ``per_class``, ``per_seq``, ``per_pair``, ...), in percent.
    """
    if len(preds) != len(flows):
        raise ValueError(f'preds has {len(preds)} sequences but flows has '
                         f'{len(flows)}')
    if valids is not None and len(valids) != len(preds):
        raise ValueError(f'preds has {len(preds)} sequences but valids has '
                         f'{len(valids)}')
    stats = []
    for s, (seq_p, seq_f) in enumerate(zip(preds, flows)):
        if len(seq_f) != max(len(seq_p) - 1, 0):
            raise ValueError(f'sequence {s}: {len(seq_p)} predictions need '
                             f'{max(len(seq_p) - 1, 0)} flows (t -> t+1), '
                             f'got {len(seq_f)}')
        seq_v = None if valids is None else valids[s]
        if seq_v is not None and len(seq_v) != len(seq_f):
            raise ValueError(f'sequence {s}: {len(seq_f)} flows but '
                             f'{len(seq_v)} valid masks')
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
        stats.append(seq_stats)
    return tc_aggregate(stats)
