"""Where a model flickers: the pixels whose prediction changes between
consecutive frames although the ground truth, carried by the flow, does not.

For a pair ``(t, t+1)`` the prediction and the ground truth of frame
``t+1`` are warped back to frame ``t`` with the flow ``t -> t+1`` (nearest
neighbour, :func:`~mmseg_temporal.flow.ops.flow_warp`, as TC). A
frame-``t`` pixel is *scored* where the warp lands inside the frame, the
optional ``valid`` mask holds, neither label is ``ignore_index`` and the
labels agree (``label_t(p) == label_{t+1}(p + flow(p))``): there the flow
is right about the scene, so a prediction change is the model's flicker,
not a flow error. It *flickers* where ``pred_t(p) != pred_{t+1}(p + flow)``.

The scored pixels are split three ways, by the ground truth of frame t:

* class;
* ``boundary`` (a pixel within ``boundary_px`` of another label: the
  ``(2 r + 1)^2`` window holds two labels) vs ``interior``;
* ``small`` vs ``large``: the area of the pixel's connected region of its
  class (8-connected) below / at least ``small_area`` of the frame.

Per category: ``rate`` = flickering / scored pixels (percent), ``share`` =
its part of all flickering pixels and ``of_scored`` = its part of all
scored pixels (percent). ``label_flow_disagree`` is the part of the
labelled in-frame pixels whose labels the flow does not carry (flow errors
and occlusions, left out).
"""
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
import torch

from mmseg_temporal.flow.ops import flow_warp

from .label_maps import ArrayLike, as_flow, as_label_map, as_mask

__all__ = ['flicker_pair_counts', 'flicker_profile', 'boundary_band',
           'region_areas']

GROUPS = ('boundary', 'interior', 'small', 'large')


def boundary_band(label: np.ndarray, radius: int) -> np.ndarray:
    """``(H, W)`` bool: pixels whose ``(2 radius + 1)^2`` window holds more
    than one label (the frame's edge does not count)."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    lab = label.astype(np.uint8)
    return cv2.dilate(lab, kernel, borderType=cv2.BORDER_REPLICATE) != \
        cv2.erode(lab, kernel, borderType=cv2.BORDER_REPLICATE)


def region_areas(label: np.ndarray) -> np.ndarray:
    """``(H, W)`` int64: the area of each pixel's 8-connected region of
    pixels with its label."""
    areas = np.zeros(label.shape, np.int64)
    for value in np.unique(label):
        mask = (label == value).astype(np.uint8)
        _, comp, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        region = stats[:, cv2.CC_STAT_AREA]
        areas[mask > 0] = region[comp[mask > 0]]
    return areas


def flicker_pair_counts(pred_t: ArrayLike, pred_t1: ArrayLike,
                        label_t: ArrayLike, label_t1: ArrayLike,
                        flow: ArrayLike, num_classes: int,
                        ignore_index: int = 255,
                        valid: Optional[ArrayLike] = None,
                        boundary_px: int = 2,
                        small_area: float = 0.01) -> Dict[str, np.ndarray]:
    """Scored and flickering pixel counts of one pair (module docstring):
    ``scored`` / ``flicker`` ``(K,)`` per class and ``(4,)`` per group of
    :data:`GROUPS`, ``labelled`` and ``carried`` (labelled in-frame pixels,
    and those whose labels the flow carries)."""
    maps = [as_label_map(x, n) for x, n in ((pred_t, 'pred_t'), (pred_t1, 'pred_t1'),
                                              (label_t, 'label_t'), (label_t1, 'label_t1'))]
    f = as_flow(flow, 'flow')
    if any(tuple(m.shape) != tuple(f.shape[1:]) for m in maps):
        raise ValueError('flicker_pair_counts: shapes differ: ' + ', '.join(
            f'{n} {tuple(m.shape)}' for n, m in zip(
                ('pred_t', 'pred_t1', 'label_t', 'label_t1'), maps)) +
            f', flow {tuple(f.shape)} (expected (H, W) maps and (2, H, W))')
    p0, p1, l0, l1 = maps
    warped, inside = flow_warp(torch.stack([p1, l1])[:, None], f[None].expand(2, -1, -1, -1),
                               mode='nearest')
    wp, wl, inside = warped[0, 0], warped[1, 0], inside[0, 0]
    if valid is not None:
        inside = inside & as_mask(valid, 'valid')
    labelled = inside & (l0 != ignore_index) & (wl != ignore_index)
    carried = labelled & (wl == l0)
    scored = carried & (p0 != ignore_index) & (wp != ignore_index)
    flick = scored & (p0 != wp)
    lab = l0.numpy()
    band = torch.from_numpy(boundary_band(lab, boundary_px))
    small = torch.from_numpy(region_areas(lab) < small_area * lab.size)
    groups = (band, ~band, small, ~small)
    out = dict(labelled=np.int64(labelled.sum()), carried=np.int64(carried.sum()))
    for name, mask in (('scored', scored), ('flicker', flick)):
        out[name] = torch.bincount(l0[mask], minlength=num_classes)[:num_classes].numpy()
        out[name + '_groups'] = np.array([int((mask & g).sum()) for g in groups])
    return out


def _percent(num, den) -> np.ndarray:
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.where(den > 0, 100. * num / np.maximum(den, 1), np.nan)


def flicker_profile(preds: Sequence[Sequence[ArrayLike]],
                    labels: Sequence[Sequence[ArrayLike]],
                    flows: Sequence[Sequence[ArrayLike]],
                    num_classes: int, ignore_index: int = 255,
                    valids: Optional[Sequence[Sequence[ArrayLike]]] = None,
                    boundary_px: int = 2, small_area: float = 0.01) -> Dict:
    """The flicker profile of whole videos: ``preds[s][t]``,
    ``labels[s][t]`` (every frame labelled), ``flows[s][t]`` from frame t to
    t+1 (``valids`` likewise, optional). Returns ``rate`` (overall, percent),
    ``per_class`` / ``groups`` dicts of ``rate``, ``share``, ``of_scored``
    (``groups`` keyed by :data:`GROUPS`), ``label_flow_disagree`` and the
    summed ``counts``."""
    total = None
    for s, seq in enumerate(preds):
        if len(labels[s]) != len(seq) or len(flows[s]) != len(seq) - 1:
            raise ValueError(f'flicker_profile: sequence {s} has {len(seq)} '
                             f'predictions, {len(labels[s])} labels and '
                             f'{len(flows[s])} flows (want T, T, T - 1)')
        for t in range(len(seq) - 1):
            c = flicker_pair_counts(seq[t], seq[t + 1], labels[s][t], labels[s][t + 1],
                                    flows[s][t], num_classes, ignore_index,
                                    None if valids is None else valids[s][t],
                                    boundary_px, small_area)
            total = c if total is None else {k: total[k] + c[k] for k in c}
    if total is None:
        raise ValueError('flicker_profile: no frame pairs')
    all_scored, all_flicker = total['scored'].sum(), total['flicker'].sum()

    def table(scored, flicker):
        return dict(rate=_percent(flicker, scored), share=_percent(flicker, all_flicker),
                    of_scored=_percent(scored, all_scored))
    groups = table(total['scored_groups'], total['flicker_groups'])
    return dict(rate=float(_percent(all_flicker, all_scored)),
                per_class=table(total['scored'], total['flicker']),
                groups={g: {k: float(v[i]) for k, v in groups.items()}
                        for i, g in enumerate(GROUPS)},
                label_flow_disagree=float(100 - _percent(total['carried'], total['labelled'])),
                counts=total)
