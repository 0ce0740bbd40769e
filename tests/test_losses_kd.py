"""Single-frame distillation: pixel-wise (Eq. 4) and pair-wise KD (Eq. 5)."""
import math

import torch
import torch.nn.functional as F

from mmseg_temporal.models.losses import IntraFrameSimilarityLoss, PixelwiseKDLoss


def naive_pixel_kd(s, t, temp=1.0, valid=None):
    """T^2 * mean over valid pixels of sum_c q_t (log q_t - log q_s)."""
    b_, c_, h, w = s.shape
    acc, n = 0.0, 0
    for b in range(b_):
        for y in range(h):
            for x in range(w):
                if valid is not None and not valid[b, y, x]:
                    continue
                zs = [float(v) / temp for v in s[b, :, y, x]]
                zt = [float(v) / temp for v in t[b, :, y, x]]
                ls = [v - math.log(sum(math.exp(u) for u in zs)) for v in zs]
                lt = [v - math.log(sum(math.exp(u) for u in zt)) for v in zt]
                acc += sum(math.exp(a) * (a - c) for a, c in zip(lt, ls))
                n += 1
    return temp * temp * acc / n


def naive_pair_kd(s, t, pool):
    """Loop-level average pooling, cosine maps and Eq. 5, batch mean."""
    def pooled(x, b):
        c_, h, w = x.shape[1:]
        cells = []
        for y0 in range(0, h - pool + 1, pool):
            for x0 in range(0, w - pool + 1, pool):
                cells.append([
                    sum(float(x[b, c, y, xx]) for y in range(y0, y0 + pool)
                        for xx in range(x0, x0 + pool)) / pool**2
                    for c in range(c_)])
        return cells

    def cos(a, b):
        return sum(p * q for p, q in zip(a, b)) / math.sqrt(
            sum(p * p for p in a) * sum(q * q for q in b))

    total = 0.0
    for b in range(s.shape[0]):
        ps, pt = pooled(s, b), pooled(t, b)
        n = len(ps)
        total += sum((cos(ps[i], ps[j]) - cos(pt[i], pt[j]))**2
                     for i in range(n) for j in range(n)) / n**2
    return total / s.shape[0]


def _r(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def test_pixel_kd_matches_loops_with_temperature_and_mask():
    s, t = _r(2, 4, 3, 5, seed=0, scale=2), _r(2, 4, 3, 5, seed=1, scale=2)
    g = torch.Generator().manual_seed(2)
    valid = torch.rand(2, 3, 5, generator=g) > .3
    for temp in (1.0, 4.0):
        got = PixelwiseKDLoss(temperature=temp)(s, t, valid=valid)
        want = naive_pixel_kd(s, t, temp, valid)
        assert abs(float(got) - want) < 1e-12 * max(1, want)
    assert float(PixelwiseKDLoss()(s, s.clone())) < 1e-14


def test_pixel_kd_resizes_teacher_to_student():
    s, t = _r(1, 3, 4, 6, seed=3), _r(1, 3, 8, 12, seed=4)
    got = PixelwiseKDLoss()(s, t)
    t_small = F.interpolate(t, size=(4, 6), mode='bilinear',
                            align_corners=False)
    assert abs(float(got) - naive_pixel_kd(s, t_small)) < 1e-12


def test_pixel_kd_gradcheck():
    s = _r(1, 3, 2, 3, seed=5).requires_grad_()
    t = _r(1, 3, 2, 3, seed=6)
    loss = PixelwiseKDLoss(temperature=2.0)
    assert torch.autograd.gradcheck(lambda a: loss(a, t), (s, ))


def test_pair_kd_matches_loops_different_channels():
    s, t = _r(2, 3, 6, 8, seed=7), _r(2, 5, 6, 8, seed=8)
    for pool in (1, 2):
        got = IntraFrameSimilarityLoss(pool_size=pool)(s, t)
        want = naive_pair_kd(s, t, pool)
        assert abs(float(got) - want) < 1e-12 * max(1, want)
    # Odd sizes: pooling drops the last row/column like AvgPool2d.
    s, t = _r(1, 2, 5, 7, seed=9), _r(1, 4, 5, 7, seed=10)
    assert abs(float(IntraFrameSimilarityLoss(pool_size=2)(s, t)) -
               naive_pair_kd(s, t, 2)) < 1e-12


def test_pair_kd_gradcheck():
    s = _r(1, 3, 4, 4, seed=11).requires_grad_()
    t = _r(1, 2, 4, 4, seed=12)
    loss = IntraFrameSimilarityLoss(pool_size=2)
    assert torch.autograd.gradcheck(lambda a: loss(a, t), (s, ))
