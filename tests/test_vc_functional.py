"""video_consistency (VSPW's VC_n): naive loop reference, hand-computed
values, the left-out last window, the ignore deviation, errors."""
import math

import numpy as np
import pytest
import torch

from mmseg_temporal.evaluation.functional import vc_windows, video_consistency

IGNORE = 255


def _naive_vc(preds, labels, n, ignore=IGNORE):
    """VSPW's VC_perclip.py loop, pixel by pixel, plus the documented
    deviation (ignore_index in any label frame of the window)."""
    accs = []
    for seq_p, seq_l in zip(preds, labels):
        if len(seq_l) <= n:
            continue
        h, w = seq_l[0].shape
        for i in range(len(seq_l) - n):
            common = stable = 0
            for y in range(h):
                for x in range(w):
                    if any(int(seq_l[i + j][y, x]) == ignore
                           for j in range(n)):
                        continue
                    if all(seq_l[i + j][y, x] == seq_l[i][y, x]
                           for j in range(1, n)):
                        common += 1
                        stable += all(seq_p[i + j][y, x] == seq_p[i][y, x]
                                      for j in range(1, n))
            accs.append(stable / common if common else float('nan'))
    accs = np.asarray(accs, np.float64)
    return float(np.nanmean(accs) * 100) if np.isfinite(accs).any() \
        else float('nan')


def _moving_square(t, h=8, w=10, size=3):
    lab = np.zeros((h, w), np.int64)
    lab[2:2 + size, t:t + size] = 1
    return lab


def test_matches_naive_reference():
    rng = np.random.default_rng(0)
    preds, labels = [], []
    for length, (h, w) in ((9, (5, 6)), (4, (3, 3)), (12, (4, 7))):
        base = rng.integers(0, 3, (h, w))
        seq_l, seq_p = [], []
        for _ in range(length):
            lab = base.copy()
            lab[rng.random((h, w)) < 0.15] = rng.integers(0, 3)
            lab[rng.random((h, w)) < 0.05] = IGNORE
            seq_l.append(lab)
            pred = lab.copy()
            pred[rng.random((h, w)) < 0.1] = rng.integers(0, 3)
            pred[pred == IGNORE] = 0
            seq_p.append(pred)
        preds.append(seq_p)
        labels.append(seq_l)
    labels[2] = [torch.from_numpy(m) for m in labels[2]]  # torch too
    for n in (2, 3, 8):
        ref = _naive_vc(preds, [[np.asarray(m) for m in s] for s in labels],
                        n)
        out = video_consistency(preds, labels, n)
        assert out['mVC'] == pytest.approx(ref, abs=1e-9), n
        assert out['n'] == n
    out = video_consistency(preds, labels, 8)
    assert out['skipped'] == [1]  # 4 frames <= 8
    assert [len(w) for w in out['per_window']] == [1, 0, 4]
    assert math.isnan(out['per_seq'][1])


def test_constant_perfect_and_flickering_by_hand():
    labels = [_moving_square(t) for t in range(6)]  # a moving scene
    n = 3
    # constant prediction: never changes, scores 100 whatever the scene
    const = [np.zeros_like(lab) for lab in labels]
    assert video_consistency([const], [labels], n)['mVC'] == 100.0
    # perfect prediction: stable wherever the labels are
    assert video_consistency([labels], [labels], n)['mVC'] == 100.0
    # flicker: the prediction is the labels, but 4 background pixels that
    # stay background throughout read class 1 in frame 3 only. Windows
    # i = 0..2 (range(6 - 3)); frame 3 is in windows 1 and 2.
    flick = [lab.copy() for lab in labels]
    flick[3][7, 6:10] = 1
    # common region of a window (frames i..i+2): background in all 3
    # (80 - 3 rows x 5 columns the square sweeps = 65) plus the square's
    # pixels in all 3 (3 rows x 1 column) = 68; 4 of them flicker
    out = video_consistency([flick], [labels], n)
    np.testing.assert_allclose(out['per_window'][0],
                               [100, 64 / 68 * 100, 64 / 68 * 100])
    assert out['mVC'] == pytest.approx((100 + 2 * 64 / 68 * 100) / 3)
    assert out['num_windows'] == 3


def test_last_window_left_out_as_in_vspw():
    """VSPW's range(T - n) never starts a window at T - n: a flicker in
    the last frame only is not seen."""
    labels = [np.zeros((4, 4), np.int64)] * 5
    preds = [np.zeros((4, 4), np.int64) for _ in range(5)]
    preds[4][0, 0] = 1
    assert video_consistency([preds], [labels], 2)['mVC'] == 100.0
    assert len(vc_windows(preds, labels, 2)) == 3
    preds[3][0, 0] = 1  # frame 3 is in window (2, 3)
    assert video_consistency([preds], [labels], 2)['mVC'] < 100.0


def test_ignore_index_deviation_and_empty_windows():
    labels = [np.full((2, 2), IGNORE, np.int64) for _ in range(4)]
    preds = [np.zeros((2, 2), np.int64) for _ in range(4)]
    labels[0][0, 0] = 1  # ignored in frames 1..3: out of every window
    out = video_consistency([preds], [labels], 2)
    assert math.isnan(out['mVC']) and out['num_windows'] == 0
    # with ignore_index=None the raw values are compared (VSPW itself):
    # the all-255 pixels form a common region
    out = video_consistency([preds], [labels], 2, ignore_index=None)
    assert out['mVC'] == 100.0 and out['num_windows'] == 2


def test_errors_name_the_fault():
    a = np.zeros((3, 3), np.int64)
    with pytest.raises(ValueError, match='n must be an integer >= 2'):
        video_consistency([[a] * 4], [[a] * 4], 1)
    with pytest.raises(ValueError, match='2 sequences but labels has 1'):
        video_consistency([[a] * 4, [a] * 4], [[a] * 4], 2)
    with pytest.raises(ValueError, match='sequence 0: 4 predictions but 3'):
        video_consistency([[a] * 4], [[a] * 3], 2)
    with pytest.raises(ValueError, match=r'labels: frames differ in size'):
        video_consistency([[a] * 4], [[a] * 3 + [np.zeros((3, 4), int)]], 2)
    with pytest.raises(ValueError, match='integer class ids'):
        video_consistency([[a.astype(float)] * 4], [[a] * 4], 2)
