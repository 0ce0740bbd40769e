"""Motion consistency (MC): a frame's prediction against the prediction of
the same frame moved by a known camera motion, scored like TC.

For each motion the moved frame's prediction is warped back with the
exact flow (nearest) and compared with the frame's prediction class by
class like an IoU, out-of-frame pixels left out: exactly
:func:`~.temporal_consistency.tc_intersect_union` with the pair (frame,
moved frame) and the motion's flow. The counts are pooled over all frames
per motion and turned into the TC figures by
:func:`~.temporal_consistency.tc_aggregate` over a fixed class set (a
class of the set never predicted scores 0).
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .label_maps import ArrayLike
from .temporal_consistency import predicted_class_mean, tc_aggregate, tc_intersect_union

__all__ = ['mc_intersect_union', 'motion_consistency']

PairStats = Tuple[np.ndarray, np.ndarray]


def mc_intersect_union(pred: ArrayLike, moved_preds: Sequence[ArrayLike],
                       flows: Sequence[ArrayLike], valids: Sequence[ArrayLike],
                       num_classes: int, ignore_index: int = 255
                       ) -> List[PairStats]:
    """Per motion, ``(intersect, union)`` ``(K,)`` of one frame.

    Args:
        pred: ``(H, W)`` prediction of the frame.
        moved_preds: one ``(H, W)`` prediction per moved frame.
        flows: per motion the exact ``(2, H, W)`` flow frame -> moved frame.
        valids: per motion the ``(H, W)`` mask of the frame's pixels that
            land on real content of the moved frame.
    """
    if not len(moved_preds) == len(flows) == len(valids):
        raise ValueError(f'mc_intersect_union: {len(moved_preds)} moved '
                         f'predictions, {len(flows)} flows and {len(valids)} '
                         'masks; need one each per motion')
    return [tc_intersect_union(pred, moved, flow, num_classes, ignore_index,
                               valid)
            for moved, flow, valid in zip(moved_preds, flows, valids)]


def motion_consistency(frame_stats: Sequence[Sequence[PairStats]],
                       names: Sequence[str],
                       classes: Optional[Iterable[int]] = None,
                       predicted: Optional[Iterable[int]] = None
                       ) -> Dict[str, Dict]:
    """The MC figures of every motion.

    Args:
        frame_stats: per frame, one ``(intersect, union)`` per motion (as
            :func:`mc_intersect_union` returns them).
        names: the motions' names, in that order.
        classes: the fixed class set (None: the classes that occur; not for
            comparing models).
        predicted: the classes the predictions hold, for ``mTC_pred``.

    Returns:
        ``{name: result}``: the dict of :func:`tc_aggregate` over the
        frames (its ``mTC`` is the motion's mean MC, ``per_class`` per
        class, in percent) plus ``mTC_pred`` and ``predicted_classes``.
    """
    names = list(names)
    for f, stats in enumerate(frame_stats):
        if len(stats) != len(names):
            raise ValueError(f'motion_consistency: frame {f} has {len(stats)} '
                             f'motions, expected {len(names)} ({names})')
    held = np.asarray(sorted({int(c) for c in predicted or ()}), np.int64)
    out = {}
    for m, name in enumerate(names):
        res = tc_aggregate([[stats[m] for stats in frame_stats]], classes)
        res['predicted_classes'] = held
        res['mTC_pred'] = predicted_class_mean(res, held) if len(res['per_class']) \
            else float('nan')
        out[name] = res
    return out
