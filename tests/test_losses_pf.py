"""Pair-wise-frame dependency loss (PF, Eq. 2) against the naive N x N form."""
import math

import pytest
import torch

from mmseg_temporal.models.losses import CrossFrameSimilarityLoss


def naive_pf_loops(s_t, s_tk, t_t, t_tk, softmax=True):
    """Loop-level Eq. 2 (float64), batch mean."""
    def vecs(x, b):
        flat = x[b].flatten(1)
        out = []
        for i in range(flat.shape[1]):
            v = [float(e) for e in flat[:, i]]
            if softmax:
                m = max(v)
                e = [math.exp(a - m) for a in v]
                v = [a / sum(e) for a in e]
            out.append(v)
        return out

    def cos(a, b):
        return sum(p * q for p, q in zip(a, b)) / math.sqrt(
            sum(p * p for p in a) * sum(q * q for q in b))

    total = 0.0
    for b in range(s_t.shape[0]):
        a, c, d, e = vecs(s_t, b), vecs(s_tk, b), vecs(t_t, b), vecs(t_tk, b)
        n = len(a)
        total += sum((cos(a[i], c[j]) - cos(d[i], e[j]))**2
                     for i in range(n) for j in range(n)) / n**2
    return total / s_t.shape[0]


def naive_pf_matrix(s_t, s_tk, t_t, t_tk):
    """Materialises the (B, N, N) maps once, in the inputs' dtype."""
    def unit(x):
        x = x.softmax(1).flatten(2)
        return x / x.norm(dim=1, keepdim=True)

    a = torch.bmm(unit(s_t).transpose(1, 2), unit(s_tk))  # the N x N map
    a.baddbmm_(unit(t_t).transpose(1, 2), unit(t_tk), alpha=-1.0)
    a.square_()
    n = a.shape[-1]
    return float(a.sum(dtype=torch.float64)) / (n * n) / a.shape[0]


def _r(*shape, seed=0, scale=1.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) *
            scale).to(dtype)


@pytest.mark.parametrize('softmax', [True, False])
def test_pf_matches_loops(softmax):
    s_t, s_tk, t_t, t_tk = (_r(2, 3, 3, 4, seed=k, scale=2) for k in range(4))
    got = CrossFrameSimilarityLoss(use_softmax=softmax)(s_t, s_tk, t_t, t_tk)
    want = naive_pf_loops(s_t, s_tk, t_t, t_tk, softmax)
    assert abs(float(got) - want) < 1e-12 * max(1, want)


def test_pf_valid_mask_restricts_pixels():
    s_t, s_tk = _r(1, 3, 3, 4, seed=4), _r(1, 3, 3, 4, seed=5)
    t_t, t_tk = _r(1, 3, 3, 4, seed=6), _r(1, 3, 3, 4, seed=7)
    valid = torch.zeros(1, 3, 4, dtype=torch.bool)
    valid[:, :2, :3] = True  # a 2 x 3 window
    got = CrossFrameSimilarityLoss()(s_t, s_tk, t_t, t_tk, valid=valid)
    crop = [x[:, :, :2, :3] for x in (s_t, s_tk, t_t, t_tk)]
    assert abs(float(got) - naive_pf_loops(*crop)) < 1e-12


def test_pf_gradcheck():
    s_t = _r(1, 3, 2, 3, seed=8).requires_grad_()
    s_tk = _r(1, 3, 2, 3, seed=9).requires_grad_()
    t_t, t_tk = _r(1, 3, 2, 3, seed=10), _r(1, 3, 2, 3, seed=11)
    loss = CrossFrameSimilarityLoss()
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b, t_t, t_tk),
                                    (s_t, s_tk))


@pytest.mark.parametrize('teacher_noise', [None, 0.05])
def test_pf_exact_at_97x97_float32(teacher_noise):
    """N = 97 x 97, C = 19, float32 inputs: the exact loss equals the naive
    N x N computation (one 354 MB map) to a relative 1e-5, also when the
    teacher nearly equals the student (the trace terms nearly cancel)."""
    shape = (1, 19, 97, 97)
    s_t = _r(*shape, seed=12, scale=3, dtype=torch.float32)
    s_tk = _r(*shape, seed=13, scale=3, dtype=torch.float32)
    if teacher_noise is None:
        t_t = _r(*shape, seed=14, scale=3, dtype=torch.float32)
        t_tk = _r(*shape, seed=15, scale=3, dtype=torch.float32)
    else:
        t_t = s_t + _r(*shape, seed=14, scale=teacher_noise,
                       dtype=torch.float32)
        t_tk = s_tk + _r(*shape, seed=15, scale=teacher_noise,
                         dtype=torch.float32)
    got = CrossFrameSimilarityLoss()(s_t, s_tk, t_t, t_tk)
    assert got.dtype == torch.float32
    want = naive_pf_matrix(s_t, s_tk, t_t, t_tk)
    assert want > 0
    assert abs(float(got) - want) <= 1e-5 * want
