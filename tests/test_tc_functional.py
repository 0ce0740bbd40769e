"""TC functional core: naive reference, exact synthetic values, errors."""
import math

import numpy as np
import pytest
import torch

from mmseg_temporal.datasets.synthetic_video import SyntheticVideoGenerator, synthetic_flow_between
from mmseg_temporal.evaluation.functional import (
    predicted_union,
    shared_class_means,
    tc_aggregate,
    tc_intersect_union,
    temporal_consistency,
)

IGNORE = 255


def _naive_pair(a, b, flow, k, valid=None):
    """Per-pixel loop: pred_t vs pred_t1 read at round(p + flow(p))."""
    h, w = a.shape
    inter, union = [0] * k, [0] * k
    for y in range(h):
        for x in range(w):
            sx = int(np.round(x + float(flow[0, y, x])))
            sy = int(np.round(y + float(flow[1, y, x])))
            if not (0 <= sx < w and 0 <= sy < h):
                continue
            if valid is not None and not valid[y, x]:
                continue
            pa, pb = int(a[y, x]), int(b[sy, sx])
            if pa == IGNORE or pb == IGNORE:
                continue
            for c in range(k):
                inter[c] += int(pa == c and pb == c)
                union[c] += int(pa == c or pb == c)
    return inter, union


def _naive_miou(inter, union):
    vals = [i / u * 100 for i, u in zip(inter, union) if u > 0]
    return sum(vals) / len(vals) if vals else float('nan')


def _naive_tc(preds, flows, k, valids=None):
    tot_i, tot_u = [0] * k, [0] * k
    seq_tcs, curves = [], []
    for s in range(len(preds)):
        si, su, curve = [0] * k, [0] * k, []
        for t in range(len(flows[s])):
            v = None if valids is None else valids[s][t]
            i, u = _naive_pair(preds[s][t], preds[s][t + 1], flows[s][t], k,
                               v)
            curve.append(_naive_miou(i, u))
            si = [x + y for x, y in zip(si, i)]
            su = [x + y for x, y in zip(su, u)]
        tot_i = [x + y for x, y in zip(tot_i, si)]
        tot_u = [x + y for x, y in zip(tot_u, su)]
        curves.append(curve)
        if flows[s]:
            seq_tcs.append(_naive_miou(si, su))
    finite = [v for v in seq_tcs if not math.isnan(v)]
    return dict(mTC=_naive_miou(tot_i, tot_u),
                mTC_seq=sum(finite) / len(finite), intersect=tot_i,
                union=tot_u, per_pair=curves)


def _random_video(rng, lengths, sizes, k, frac_flow=False):
    preds, flows, valids = [], [], []
    for n, (h, w) in zip(lengths, sizes):
        p = [rng.integers(0, k - 1, (h, w)) for _ in range(n)]  # class k-1
        for m in p:                                              # never used
            m[rng.random((h, w)) < 0.1] = IGNORE
        f = [rng.integers(-3, 4, (2, h, w)).astype(np.float32)
             for _ in range(n - 1)]
        if frac_flow:  # non-integer flows, away from the .5 rounding ties
            f = [x + rng.uniform(-0.4, 0.4, x.shape).astype(np.float32)
                 for x in f]
        preds.append(p)
        flows.append(f)
        valids.append([rng.random((h, w)) < 0.8 for _ in range(n - 1)])
    return preds, flows, valids


@pytest.mark.parametrize('frac_flow', [False, True])
@pytest.mark.parametrize('use_valid', [False, True])
def test_matches_naive_reference(frac_flow, use_valid):
    rng = np.random.default_rng(3 + frac_flow)
    k = 5
    preds, flows, valids = _random_video(
        rng, lengths=[4, 1, 2, 3], sizes=[(7, 9), (5, 5), (6, 4), (8, 6)],
        k=k, frac_flow=frac_flow)
    # mix numpy and torch inputs
    preds[0] = [torch.from_numpy(m) for m in preds[0]]
    flows[3] = [torch.from_numpy(f) for f in flows[3]]
    valids = valids if use_valid else None
    ref = _naive_tc([[np.asarray(m) for m in s] for s in preds],
                    [[np.asarray(f) for f in s] for s in flows], k, valids)
    out = temporal_consistency(preds, flows, k, IGNORE, valids=valids)
    assert out['intersect'].tolist() == ref['intersect']
    assert out['union'].tolist() == ref['union']
    assert out['mTC'] == pytest.approx(ref['mTC'], abs=1e-9)
    assert out['mTC_seq'] == pytest.approx(ref['mTC_seq'], abs=1e-9)
    assert out['num_pairs'] == 3 + 0 + 1 + 2
    assert [len(c) for c in out['per_pair']] == [3, 0, 1, 2]
    for got, want in zip(out['per_pair'], ref['per_pair']):
        np.testing.assert_allclose(got, want, atol=1e-9)
    assert math.isnan(out['per_seq'][1])  # one frame: no pair
    assert math.isnan(out['per_class'][k - 1])  # class never predicted
    assert np.isfinite(out['per_class'][:k - 1]).all()
    # mTC (pooled) differs from mTC_seq (Eq. 8) on unequal sequences
    assert out['mTC'] != pytest.approx(out['mTC_seq'], abs=1e-6)


def test_out_of_frame_and_ignore_left_out():
    a = np.array([[0, 1, 2]])
    b = np.array([[1, 2, IGNORE]])
    flow = np.zeros((2, 1, 3), np.float32)
    flow[0] = 1  # read the right neighbour; the last pixel leaves the frame
    inter, union = tc_intersect_union(a, b, flow, 3, IGNORE)
    # pixel 0: 0 vs b[1] = 2; pixel 1: 1 vs b[2] = 255 (ignored);
    # pixel 2: source x = 3 is out of frame
    assert inter.tolist() == [0, 0, 0]
    assert union.tolist() == [1, 0, 1]
    res = tc_aggregate([[(inter, union)]])
    assert res['mTC'] == 0.0 and math.isnan(res['per_class'][1])


def _synthetic(num_frames=4, video=0):
    gen = SyntheticVideoGenerator(height=48, width=64, seed=0)
    v = gen.render(video, num_frames)
    flows, vis = [], []
    for t in range(num_frames - 1):
        f, m = synthetic_flow_between(v['layers'][t], v['layers'][t + 1],
                                      v['velocities'], 1)
        flows.append(f)
        vis.append(m)
    return v, flows, vis


def test_ground_truth_with_exact_flow_is_100():
    seqs = [_synthetic(4, 0), _synthetic(3, 1)]
    preds = [list(v['labels']) for v, _, _ in seqs]
    flows = [f for _, f, _ in seqs]
    vis = [m for _, _, m in seqs]
    out = temporal_consistency(preds, flows, 5, valids=vis)
    assert out['mTC'] == 100.0 and out['mTC_seq'] == 100.0
    assert all((c == 100.0).all() for c in out['per_pair'])
    # Without the visibility mask, occluded pixels compare the occluder's
    # label: the score can only drop.
    out_nomask = temporal_consistency(preds, flows, 5)
    assert out_nomask['mTC'] < 100.0


def test_flipped_pixels_give_hand_computed_value():
    v, flows, vis = _synthetic(2, 0)
    gt0, gt1, m = v['labels'][0], v['labels'][1], vis[0]
    n = np.array([np.sum(m & (gt0 == c)) for c in range(5)])
    present = np.flatnonzero(n)
    assert len(present) >= 2
    src, dst = present[np.argsort(n[present])[::-1][:2]]
    pred0 = gt0.copy()
    ys, xs = np.nonzero(m & (gt0 == src))
    pred0[ys[:10], xs[:10]] = dst          # 10 visible pixels src -> dst
    pred0[ys[10:13], xs[10:13]] = IGNORE   # 3 visible pixels ignored
    ys_o, xs_o = np.nonzero(~m)
    pred0[ys_o[:5], xs_o[:5]] = IGNORE     # invisible: never counted anyway
    # by hand: flips move 10 pixels of src into dst's union; ignored pixels
    # leave both intersection and union of src
    exp_i = n.copy()
    exp_u = n.copy()
    exp_i[src] -= 10 + 3
    exp_u[src] -= 3
    exp_u[dst] += 10
    inter, union = tc_intersect_union(pred0, gt1, flows[0], 5, IGNORE, m)
    assert inter.tolist() == exp_i.tolist()
    assert union.tolist() == exp_u.tolist()
    expected = np.mean([exp_i[c] / exp_u[c] * 100 for c in present])
    out = temporal_consistency([[pred0, gt1]], [flows], 5, valids=[vis])
    assert out['mTC'] == pytest.approx(expected, abs=1e-12)
    assert out['mTC_seq'] == pytest.approx(expected, abs=1e-12)
    assert out['per_pair'][0][0] == pytest.approx(expected, abs=1e-12)


def test_errors_name_the_mismatch():
    a = np.zeros((4, 5), np.int64)
    f = np.zeros((2, 4, 5), np.float32)
    with pytest.raises(ValueError, match='2 sequences but flows has 1'):
        temporal_consistency([[a, a], [a, a]], [[f]], 3)
    with pytest.raises(ValueError, match='3 predictions need 2 flows'):
        temporal_consistency([[a, a, a]], [[f]], 3)
    with pytest.raises(ValueError, match=r'\(4, 5\).*\(4, 6\)'):
        temporal_consistency([[a, np.zeros((4, 6), int)]], [[f]], 3)
    with pytest.raises(ValueError, match=r'flow.*\(4, 5\)'):
        tc_intersect_union(a, a, np.zeros((4, 5)), 3)
    with pytest.raises(ValueError, match=r'outside \[0, 3\).*\[7\]'):
        tc_intersect_union(a, a + 7, f, 3)
    with pytest.raises(ValueError, match='integer'):
        tc_intersect_union(a.astype(np.float32), a, f, 3)
    with pytest.raises(ValueError, match='valid masks'):
        temporal_consistency([[a, a]], [[f]], 3, valids=[[]])


# ---------------------------------------------------------------------------
# The fixed class set (issue 11): a model cannot gain by not predicting.
# ---------------------------------------------------------------------------
def _flickering_class_video(seed=0, n=6):
    """Ground truth of a synthetic video, model A = the labels with the
    smallest class flickering at random (poor TC on it), model B = A but
    never predicting that class (its pixels given to the largest class)."""
    v, flows, vis = _synthetic(n, 0)
    gt = list(v['labels'])
    counts = np.bincount(np.concatenate([g.ravel() for g in gt]), minlength=5)
    present = np.flatnonzero(counts)
    hard, big = present[np.argmin(counts[present])], np.argmax(counts)
    rng = np.random.default_rng(seed)
    model_a, model_b = [], []
    for g in gt:
        a = g.copy()
        flip = (g == hard) & (rng.random(g.shape) < 0.6)
        a[flip] = big
        model_a.append(a)
        b = a.copy()
        b[b == hard] = big
        model_b.append(b)
    return gt, model_a, model_b, flows, vis, hard


def test_never_predicting_a_class_lowers_mtc_under_the_fixed_set():
    gt, model_a, model_b, flows, vis, hard = _flickering_class_video()
    gt_classes = np.unique(np.concatenate([g.ravel() for g in gt]))
    a = temporal_consistency([model_a], [flows], 5, valids=[vis],
                             classes=gt_classes)
    b = temporal_consistency([model_b], [flows], 5, valids=[vis],
                             classes=gt_classes)
    assert hard in a['predicted_classes'] and hard not in b['predicted_classes']
    assert b['per_class'][hard] == 0.0  # in the set, never predicted
    assert b['mTC'] < a['mTC']
    assert b['mTC_seq'] < a['mTC_seq']
    # the old mean over the classes that occur rewards B for dropping it
    old_a = temporal_consistency([model_a], [flows], 5, valids=[vis])
    old_b = temporal_consistency([model_b], [flows], 5, valids=[vis])
    assert old_b['mTC'] > old_a['mTC']
    assert math.isnan(old_b['per_class'][hard])
    # per_class is NaN only outside the set
    outside = np.setdiff1d(np.arange(5), gt_classes)
    assert np.isnan(b['per_class'][outside]).all()
    assert np.isfinite(b['per_class'][gt_classes]).all()
    # mTC_pred: B's mean over what it predicts; mTC_shared: compared over
    # the classes both models predict, the two are scored over one set
    assert 'mTC_shared' not in b  # a comparison's figure, not one model's
    assert b['mTC_pred'] == pytest.approx(
        np.mean(b['per_class'][b['predicted_classes']]))
    (mean_a, mean_b), shared = shared_class_means(
        [a['per_class'], b['per_class']],
        [a['predicted_classes'], b['predicted_classes']])
    assert hard not in shared and set(shared) <= set(gt_classes.tolist())
    assert mean_a == pytest.approx(np.mean(a['per_class'][shared]))
    assert mean_b == pytest.approx(np.mean(b['per_class'][shared]))
    # unlabelled video (the demo): the common set is the union of what any
    # compared model predicts
    assert predicted_union([a['predicted_classes'], b['predicted_classes']]) \
        == a['predicted_classes'].tolist()
    with pytest.raises(ValueError, match='one predicted-class set per model'):
        shared_class_means([a['per_class']], [])


def test_class_set_by_hand():
    # one pair, 3 classes: class 0 kept (I=U=2), class 1 never predicted
    a = np.array([[0, 0, 2, 2]])
    b = np.array([[0, 0, 2, 0]])
    flow = np.zeros((2, 1, 4), np.float32)
    inter, union = tc_intersect_union(a, b, flow, 3)
    assert inter.tolist() == [2, 0, 1] and union.tolist() == [3, 0, 2]
    res = tc_aggregate([[(inter, union)]], classes=[0, 1, 2])
    assert res['per_class'].tolist() == [pytest.approx(200 / 3), 0.0, 50.0]
    assert res['mTC'] == pytest.approx((200 / 3 + 0 + 50) / 3)
    res = tc_aggregate([[(inter, union)]], classes=[0, 2])
    assert math.isnan(res['per_class'][1])
    assert res['mTC'] == pytest.approx((200 / 3 + 50) / 2)
    # the per-sequence sets of mTC_seq
    res = tc_aggregate([[(inter, union)], [(inter, union)]],
                       classes=[0, 1, 2], seq_classes=[[0, 2], [0, 1, 2]])
    assert res['per_seq'].tolist() == [pytest.approx((200 / 3 + 50) / 2),
                                       pytest.approx((200 / 3 + 50) / 3)]
    with pytest.raises(ValueError, match=r'outside \[0, 3\).*\[5\]'):
        tc_aggregate([[(inter, union)]], classes=[0, 5])
    with pytest.raises(ValueError, match='seq_classes has 1 entries for 2'):
        tc_aggregate([[], []], classes=[0], seq_classes=[[0]])
