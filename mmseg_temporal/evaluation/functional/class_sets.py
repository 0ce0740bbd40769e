"""Class sets of the temporal-consistency figures: which classes a mean
runs over, so that every compared model is scored over the same ones.

A TC mean over "the classes that occur in the predictions" rewards a model
for never predicting a hard class (the class leaves the mean). The fixed
set is decided before scoring (by default: the classes of the ground truth)
and a class in it that a model never predicts scores 0. Two means leave the
classes a model misses out, separating flicker from recognition (always
read beside ``mTC``): ``mTC_pred``, over the classes of the set that this
model predicts (one model's figure), and ``mTC_shared``, over the classes
that *every* compared model predicts (:func:`shared_class_means`).
"""
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['check_class_set', 'classes_in', 'class_mean', 'fixed_class_set',
           'predicted_union', 'shared_class_means']


def check_class_set(classes: Iterable[int], num_classes: int) -> np.ndarray:
    """Sorted unique int64 class ids, checked to lie in ``[0, K)``."""
    ids = np.unique(np.asarray(list(classes), dtype=np.int64))
    bad = ids[(ids < 0) | (ids >= num_classes)]
    if bad.size:
        raise ValueError(f'classes holds ids outside [0, {num_classes}): '
                         f'{bad.tolist()}')
    return ids


def classes_in(label_map, num_classes: int,
               ignore_index: Optional[int] = 255) -> np.ndarray:
    """The class ids ``[0, K)`` that occur in a label map (``ignore_index``
    and out-of-range values left out), sorted."""
    ids = np.unique(np.asarray(label_map))
    keep = (ids >= 0) & (ids < num_classes)
    if ignore_index is not None:
        keep &= ids != ignore_index
    return ids[keep].astype(np.int64)


def class_mean(per_class: np.ndarray, classes: Iterable[int]) -> float:
    """Mean of ``per_class`` over ``classes`` (NaN over no class)."""
    ids = np.asarray(list(classes), dtype=np.int64)
    if ids.size == 0:
        return float('nan')
    return float(np.asarray(per_class, dtype=np.float64)[ids].mean())


def predicted_union(predicted: Sequence[Iterable[int]]) -> List[int]:
    """The class set of a comparison on unlabelled video (the demo): the
    union of the classes any compared model predicts, sorted."""
    return sorted(set().union(*(set(int(c) for c in p) for p in predicted)))


def shared_class_means(per_class: Sequence[np.ndarray],
                       predicted: Sequence[Iterable[int]],
                       classes: Optional[Iterable[int]] = None
                       ) -> Tuple[List[float], List[int]]:
    """``mTC_shared`` of several compared models: each model's mean over
    the classes that *every* model predicts somewhere in the scored frames.

    Args:
        per_class: one ``(K,)`` per-class TC array per model (e.g. the
            ``per_class`` of :func:`temporal_consistency`).
        predicted: one set of predicted class ids per model (the
            ``predicted_classes`` of :func:`temporal_consistency`).
        classes: optionally restrict to this class set too (the fixed set
            the models were scored over).

    Returns:
        ``(means, shared)``: one mean per model (percent; NaN when no class
        is shared) and the shared class ids.
    """
    if len(per_class) != len(predicted) or not per_class:
        raise ValueError('shared_class_means needs one predicted-class set '
                         f'per model: got {len(per_class)} per-class arrays '
                         f'and {len(predicted)} sets')
    shared = set.intersection(*(set(int(c) for c in p) for p in predicted))
    if classes is not None:
        shared &= set(int(c) for c in classes)
    ids = sorted(shared)
    return [class_mean(pc, ids) for pc in per_class], ids


def fixed_class_set(classes: Optional[Sequence], names: Sequence[str],
                    gt_classes: Optional[Iterable[int]], who: str,
                    scored: str = 'frames') -> Tuple[np.ndarray, str]:
    """The class set of a consistency metric and the words saying which:
    ``classes`` (ids or names) when given; else the classes of the ground
    truth of the scored ``frames`` (``gt_classes``, when any); else every
    class of ``names``. ``who`` names the metric in errors."""
    k = len(names)
    if classes is not None:
        ids = []
        for c in classes:
            if isinstance(c, str) and c not in names:
                raise ValueError(f'{who}: classes names {c!r}, not one of '
                                 f'{list(names)}')
            ids.append(list(names).index(c) if isinstance(c, str) else int(c))
        bad = [i for i in ids if not 0 <= i < k]
        if bad:
            raise ValueError(f'{who}: classes holds ids outside [0, {k}): {bad}')
        return np.unique(ids), f'the {len(set(ids))} given classes'
    gt = sorted({int(c) for c in (gt_classes or ()) if 0 <= int(c) < k})
    if gt:
        return (np.asarray(gt, np.int64), f'the {len(gt)} classes in the '
                f'ground truth of the scored {scored}')
    return (np.arange(k), f'all {k} dataset classes (no labelled frame among '
            f'the scored {scored})')
