"""Video consistency VC_n of VSPW (Miao et al., CVPR 2021), computed as
VSPW's own ``VC_perclip.py`` (github.com/VSPW-dataset/VSPW_code) does, so
the figures compare with VSPW papers.

For a sequence of ``T`` frames and each window start ``i`` in
``0 .. T-n-1`` (VSPW's loop ``range(T - n)``; the last full window, which
starts at ``T - n`` and is the only one holding frame ``T - 1``, is left
out, as there), the *common region* is the set of pixels whose ground-truth
label in every frame ``i+1 .. i+n-1`` equals frame ``i``'s, and the window
scores the share of the common region where the prediction in every frame
``i+1 .. i+n-1`` equals frame ``i``'s too. No flow, no warping: a pixel
position is followed in place. A window with an empty common region scores
NaN. Scores of all windows of all sequences are pooled with a nan-mean
(VSPW's ``np.nanmean(total_acc)``); sequences of ``T <= n`` frames are
skipped, as in VSPW.

One deviation from VSPW, for datasets with an ignore label: pixels that are
``ignore_index`` in any ground-truth frame of the window are left out of
the common region (VSPW compares raw label values, so a pixel ignored in
all ``n`` frames would count as common there).

VC rewards a prediction that does not change: a constant prediction scores
100. Read it beside mIoU, never alone.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from .label_maps import ArrayLike, as_label_map

__all__ = ['vc_windows', 'video_consistency']


def _stack(maps: Sequence[ArrayLike], what: str) -> np.ndarray:
    """``(T, H, W)`` stack of checked label maps, uint8 where the values
    fit (a 101-frame 360x480 CamVid run: 17 MB instead of 140)."""
    arrs = [as_label_map(m, f'{what}[{t}]').numpy() for t, m in
            enumerate(maps)]
    shapes = {a.shape for a in arrs}
    if len(shapes) > 1:
        raise ValueError(f'{what}: frames differ in size: {sorted(shapes)}')
    small = all(a.size == 0 or (a.min() >= 0 and a.max() <= 255)
                for a in arrs)
    return np.stack([a.astype(np.uint8 if small else np.int64)
                     for a in arrs])


def vc_windows(preds: Sequence[ArrayLike], labels: Sequence[ArrayLike],
               n: int, ignore_index: Optional[int] = 255) -> np.ndarray:
    """VC of each window of one sequence (fractions in ``[0, 1]``).

    Args:
        preds, labels: ``T`` integer ``(H, W)`` maps each, in time order.
        n: window length (frames ``i .. i+n-1``).
        ignore_index: ground-truth label left out (see the module doc).

    Returns:
        ``(T - n,)`` float64 array (empty when ``T <= n``): one score per
        window start ``i`` in ``range(T - n)``, NaN where the common region
        is empty.
    """
    if len(preds) != len(labels):
        raise ValueError(f'{len(preds)} predictions but {len(labels)} '
                         'labels')
    if len(preds) <= n:
        return np.zeros(0, np.float64)
    pred, gt = _stack(preds, 'preds'), _stack(labels, 'labels')
    if pred.shape != gt.shape:
        raise ValueError(f'predictions are {pred.shape[1:]} but labels '
                         f'{gt.shape[1:]}')
    out = np.empty(len(preds) - n, np.float64)
    for i in range(len(preds) - n):
        common = np.all(gt[i + 1:i + n] == gt[i], axis=0)
        if ignore_index is not None:
            common &= np.all(gt[i:i + n] != ignore_index, axis=0)
        stable = np.all(pred[i + 1:i + n] == pred[i], axis=0)
        size = int(common.sum())
        out[i] = (int((stable & common).sum()) / size) if size else np.nan
    return out


def video_consistency(preds: Sequence[Sequence[ArrayLike]],
                      labels: Sequence[Sequence[ArrayLike]],
                      n: int,
                      ignore_index: Optional[int] = 255) -> Dict:
    """VSPW's VC_n over a set of sequences (see the module doc).

    Args:
        preds: one list per sequence of ``(H, W)`` integer predictions in
            time order.
        labels: matching lists of ground-truth maps (every frame labelled).
        n: window length, e.g. 8 or 16 (``mVC_8``, ``mVC_16``); >= 2.
        ignore_index: ground-truth label left out of the common region.

    Returns:
        dict: ``mVC`` (percent, nan-mean of every window's score over all
        sequences; NaN without a window), ``per_seq`` ``(S,)`` (percent,
        NaN for a skipped sequence), ``per_window`` (list of ``(T_s - n,)``
        arrays, percent), ``num_windows`` (windows with a non-empty common
        region), ``skipped`` (indices of sequences with ``T <= n``), ``n``.
    """
    if int(n) != n or n < 2:
        raise ValueError(f'n must be an integer >= 2 (frames per window), '
                         f'got {n!r}')
    n = int(n)
    if len(preds) != len(labels):
        raise ValueError(f'preds has {len(preds)} sequences but labels has '
                         f'{len(labels)}')
    per_window: List[np.ndarray] = []
    skipped = []
    for s, (seq_p, seq_l) in enumerate(zip(preds, labels)):
        try:
            per_window.append(vc_windows(seq_p, seq_l, n, ignore_index) * 100)
        except ValueError as e:
            raise ValueError(f'sequence {s}: {e}') from e
        if len(seq_p) <= n:
            skipped.append(s)
    pooled = np.concatenate(per_window) if per_window else np.zeros(0)
    finite = np.isfinite(pooled)
    per_seq = np.asarray([np.nanmean(w) if np.isfinite(w).any() else np.nan
                          for w in per_window], np.float64)
    return dict(mVC=float(pooled[finite].mean()) if finite.any()
                else float('nan'),
                per_seq=per_seq, per_window=per_window,
                num_windows=int(finite.sum()), skipped=skipped, n=n)
