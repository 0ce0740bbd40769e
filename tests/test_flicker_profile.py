"""Flicker profile: a naive per-pixel reference, hand cases, errors."""
import numpy as np
import pytest

from mmseg_temporal.evaluation.functional.flicker_profile import (
    GROUPS,
    boundary_band,
    flicker_pair_counts,
    flicker_profile,
    region_areas,
)

IGNORE = 255


def _naive_band(lab, r):
    h, w = lab.shape
    out = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            win = lab[max(y - r, 0):y + r + 1, max(x - r, 0):x + r + 1]
            out[y, x] = len(np.unique(win)) > 1
    return out


def _naive_areas(lab):
    """Flood fill, 8-connected."""
    h, w = lab.shape
    areas = np.zeros((h, w), int)
    seen = np.zeros((h, w), bool)
    for y0 in range(h):
        for x0 in range(w):
            if seen[y0, x0]:
                continue
            stack, members = [(y0, x0)], []
            seen[y0, x0] = True
            while stack:
                y, x = stack.pop()
                members.append((y, x))
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        yy, xx = y + dy, x + dx
                        if 0 <= yy < h and 0 <= xx < w and not seen[yy, xx] \
                                and lab[yy, xx] == lab[y0, x0]:
                            seen[yy, xx] = True
                            stack.append((yy, xx))
            for y, x in members:
                areas[y, x] = len(members)
    return areas


def _naive_counts(p0, p1, l0, l1, flow, k, valid, r, small_area):
    h, w = p0.shape
    band, areas = _naive_band(l0, r), _naive_areas(l0)
    scored, flick = np.zeros(k, int), np.zeros(k, int)
    sg, fg = np.zeros(4, int), np.zeros(4, int)
    for y in range(h):
        for x in range(w):
            sx = int(np.round(x + flow[0, y, x]))
            sy = int(np.round(y + flow[1, y, x]))
            if not (0 <= sx < w and 0 <= sy < h) or (valid is not None and not valid[y, x]):
                continue
            if IGNORE in (l0[y, x], l1[sy, sx], p0[y, x], p1[sy, sx]) or l0[y, x] != l1[sy, sx]:
                continue
            c, f = l0[y, x], p0[y, x] != p1[sy, sx]
            small = areas[y, x] < small_area * h * w
            groups = [band[y, x], not band[y, x], small, not small]
            scored[c] += 1
            flick[c] += f
            sg += np.array(groups, int)
            fg += np.array(groups, int) * int(f)
    return scored, flick, sg, fg


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_pair_counts_equal_a_pixel_loop(seed):
    rng = np.random.default_rng(seed)
    h, w, k = 14, 17, 4
    l0 = np.kron(rng.integers(0, k, (4, 5)), np.ones((4, 4), int))[:h, :w]
    l0[rng.random((h, w)) < 0.05] = IGNORE
    l1 = np.roll(l0, 1, axis=1)
    p0 = np.where(rng.random((h, w)) < 0.8, l0, rng.integers(0, k, (h, w)))
    p1 = np.where(rng.random((h, w)) < 0.8, l1, rng.integers(0, k, (h, w)))
    p0[l0 == IGNORE] = 0
    p1[l1 == IGNORE] = 1
    flow = rng.integers(-2, 3, (2, h, w)).astype(np.float32)
    flow[0] += 1
    valid = rng.random((h, w)) > 0.1
    got = flicker_pair_counts(p0, p1, l0, l1, flow, k, IGNORE, valid, 1, 0.05)
    want = _naive_counts(p0, p1, l0, l1, flow, k, valid, 1, 0.05)
    for key, ref in zip(('scored', 'flicker', 'scored_groups', 'flicker_groups'), want):
        np.testing.assert_array_equal(got[key], ref, err_msg=key)
    assert got['scored'].sum() > 0 and got['flicker'].sum() > 0


def test_band_and_areas_equal_naive():
    rng = np.random.default_rng(3)
    lab = np.kron(rng.integers(0, 3, (5, 6)), np.ones((3, 3), int))
    for r in (1, 2):
        np.testing.assert_array_equal(boundary_band(lab, r), _naive_band(lab, r))
    np.testing.assert_array_equal(region_areas(lab), _naive_areas(lab))


def test_flicker_on_a_small_objects_edge_is_all_boundary_and_small():
    """A 4x4 object on a 40x40 background; the model's prediction of it
    grows by one pixel in every other frame: every flickering pixel is on
    the object's boundary band, and the object is small."""
    lab = np.zeros((40, 40), int)
    lab[10:14, 10:14] = 1
    grown = lab.copy()
    grown[9:15, 9:15] = 1
    preds, labels = [lab, grown, lab, grown], [lab] * 4
    flows = [np.zeros((2, 40, 40), np.float32)] * 3
    res = flicker_profile([preds], [labels], [flows], 2, boundary_px=1, small_area=0.05)
    assert res['groups']['boundary']['share'] == pytest.approx(100.)
    assert res['groups']['interior']['rate'] == 0.
    # the object is small; the flicker sits on background pixels (large)
    assert res['groups']['large']['share'] == pytest.approx(100.)
    assert res['groups']['small']['rate'] == 0.
    n_flip = 36 - 16  # background ring turned object
    assert res['counts']['flicker'].sum() == 3 * n_flip
    assert res['rate'] == pytest.approx(100 * 3 * n_flip / (3 * 1600))
    assert res['per_class']['share'][0] == pytest.approx(100.)
    assert res['label_flow_disagree'] == 0.
    assert set(res['groups']) == set(GROUPS)


def test_labels_the_flow_does_not_carry_are_left_out():
    lab0 = np.zeros((8, 8), int)
    lab1 = lab0.copy()
    lab1[:, 4:] = 1  # the flow (zero) says nothing moved: half disagrees
    pred0, pred1 = lab0, lab1
    res = flicker_profile([[pred0, pred1]], [[lab0, lab1]],
                          [[np.zeros((2, 8, 8), np.float32)]], 2)
    assert res['label_flow_disagree'] == pytest.approx(50.)
    assert res['rate'] == 0.  # the prediction changed only where the labels did


def test_errors_name_the_inputs():
    z = np.zeros((4, 4), int)
    with pytest.raises(ValueError, match='label_t1'):
        flicker_pair_counts(z, z, z, np.zeros((4, 5), int),
                            np.zeros((2, 4, 4), np.float32), 2)
    with pytest.raises(ValueError, match='sequence 0'):
        flicker_profile([[z, z]], [[z]], [[np.zeros((2, 4, 4))]], 2)
