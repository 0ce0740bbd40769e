"""The cosine-similarity helper shared by PF, pair-wise SF and MF."""
import math

import pytest
import torch

from mmseg_temporal.models.losses.similarity import self_similarity, similarity_distance


def _cos(a, b, eps=1e-12):
    return float(a @ b) / (max(math.sqrt(float(a @ a)), eps) *
                           max(math.sqrt(float(b @ b)), eps))


def naive_distance(s1, t1, s2, t2, valid1=None, valid2=None):
    """Loop-level (1/N^2) sum_ij (cos(s1_i, s2_j) - cos(t1_i, t2_j))^2."""
    b_, _, n = s1.shape
    out = []
    for b in range(b_):
        acc, n1, n2 = 0.0, 0, 0
        for i in range(n):
            if valid1 is not None and not valid1[b, i]:
                continue
            n1 += 1
            for j in range(n):
                if valid2 is not None and not valid2[b, j]:
                    continue
                acc += (_cos(s1[b, :, i], s2[b, :, j]) -
                        _cos(t1[b, :, i], t2[b, :, j]))**2
        n2 = n if valid2 is None else int(valid2[b].sum())
        n1 = n if valid1 is None else n1
        out.append(acc / (n1 * n2))
    return torch.tensor(out, dtype=torch.float64)


def _rand(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def test_cross_frame_distance_matches_loops():
    torch.manual_seed(0)
    s1, s2, t1, t2 = _rand(2, 4, 15), _rand(2, 4, 15), _rand(2, 6, 15), \
        _rand(2, 6, 15)
    got = similarity_distance(s1, t1, s2, t2)
    assert got.dtype == torch.float64 and got.shape == (2, )
    torch.testing.assert_close(got, naive_distance(s1, t1, s2, t2),
                               rtol=1e-12, atol=1e-14)


def test_self_distance_matches_loops_and_general_path():
    torch.manual_seed(1)
    s, t = _rand(2, 3, 12), _rand(2, 5, 12)
    got = similarity_distance(s, t)
    torch.testing.assert_close(got, naive_distance(s, t, s, t), rtol=1e-12,
                               atol=1e-14)
    torch.testing.assert_close(got, similarity_distance(s, t, s, t),
                               rtol=1e-12, atol=1e-14)


def test_masked_distance_matches_loops():
    torch.manual_seed(2)
    s1, s2, t1, t2 = _rand(2, 3, 10), _rand(2, 3, 10), _rand(2, 3, 10), \
        _rand(2, 3, 10)
    v1 = torch.rand(2, 10) > 0.3
    v2 = torch.rand(2, 10) > 0.4
    got = similarity_distance(s1, t1, s2, t2, valid1=v1, valid2=v2)
    torch.testing.assert_close(got, naive_distance(s1, t1, s2, t2, v1, v2),
                               rtol=1e-12, atol=1e-14)


def test_identical_student_teacher_gives_zero_and_4d_input():
    torch.manual_seed(3)
    s1, s2 = _rand(1, 5, 3, 4), _rand(1, 5, 3, 4)
    got = similarity_distance(s1, 2.0 * s1, s2, 3.0 * s2)  # cos is scale-free
    assert abs(float(got)) < 1e-14
    assert float(similarity_distance(s1, _rand(1, 2, 3, 4))) > 1e-3


def test_self_similarity_map_matches_loops():
    torch.manual_seed(4)
    x = _rand(2, 3, 2, 3)
    a = self_similarity(x)
    assert a.shape == (2, 6, 6)
    flat = x.flatten(2)
    for b in range(2):
        for i in range(6):
            for j in range(6):
                assert abs(float(a[b, i, j]) -
                           _cos(flat[b, :, i], flat[b, :, j])) < 1e-12


def test_distance_gradcheck():
    """The hand-written backward, for every input (teacher side included)."""
    torch.manual_seed(5)
    s1, s2 = _rand(1, 3, 6).requires_grad_(), _rand(1, 3, 6).requires_grad_()
    t1, t2 = _rand(1, 2, 6).requires_grad_(), _rand(1, 2, 6).requires_grad_()
    assert torch.autograd.gradcheck(similarity_distance, (s1, t1, s2, t2))
    assert torch.autograd.gradcheck(similarity_distance, (s1, t1))
    v1 = torch.tensor([[1, 1, 0, 1, 0, 1]], dtype=torch.bool)
    assert torch.autograd.gradcheck(
        lambda a, b: similarity_distance(a, t1, b, t2, valid1=v1), (s1, s2))


def test_distance_shape_errors():
    with pytest.raises(ValueError, match=r'\(1, 3, 6\).*\(1, 2, 5\)'):
        similarity_distance(_rand(1, 3, 6), _rand(1, 2, 5))


def test_chunked_accumulation_matches(monkeypatch):
    """Many tiny pixel chunks (forward and backward) give the same values."""
    import mmseg_temporal.models.losses.similarity as sim
    torch.manual_seed(6)
    s1, s2 = _rand(2, 3, 11).requires_grad_(), _rand(2, 3, 11)
    t1, t2 = _rand(2, 4, 11), _rand(2, 4, 11)
    whole = similarity_distance(s1, t1, s2, t2).sum()
    (g_whole, ) = torch.autograd.grad(whole, s1)
    monkeypatch.setattr(sim, '_CHUNK_ELEMS', 20)  # 1-2 pixels per chunk
    assert len(sim._chunks(11, 2 * 7)) > 5
    chunked = similarity_distance(s1, t1, s2, t2).sum()
    (g_chunked, ) = torch.autograd.grad(chunked, s1)
    torch.testing.assert_close(chunked, whole, rtol=1e-13, atol=0)
    torch.testing.assert_close(g_chunked, g_whole, rtol=1e-12, atol=1e-15)
    assert torch.autograd.gradcheck(lambda a: similarity_distance(a, t1),
                                    (s1, ))
