"""Multi-frame dependency loss (MF, Eq. 6), its ConvLSTM and clipping hook."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from mmseg_temporal.engine.hooks import ConvLSTMWeightClipHook
from mmseg_temporal.models.losses import ConvLSTM, MultiFrameLoss


def _loop_pool_cos(x, pool):
    """Loop-level average pooling + cosine self-similarity: (B, 1, N, N)."""
    b_, c_, h, w = x.shape
    maps = []
    for b in range(b_):
        cells = []
        for y0 in range(0, h - pool + 1, pool):
            for x0 in range(0, w - pool + 1, pool):
                cells.append([
                    sum(float(x[b, c, y, xx]) for y in range(y0, y0 + pool)
                        for xx in range(x0, x0 + pool)) / pool**2
                    for c in range(c_)])
        n = len(cells)
        a = torch.zeros(n, n, dtype=torch.float64)
        for i in range(n):
            for j in range(n):
                p, q = cells[i], cells[j]
                a[i, j] = sum(u * v for u, v in zip(p, q)) / math.sqrt(
                    sum(u * u for u in p) * sum(v * v for v in q))
        maps.append(a)
    return torch.stack(maps)[:, None]


def naive_conv_lstm(lstm, maps):
    """Eq. 6 gate by gate, each kernel as its own convolution."""
    hid = lstm.hidden_channels
    w, bias = lstm.gates.weight, lstm.gates.bias
    pad = w.shape[-1] // 2

    def gate(g, a, h):
        sl = slice(g * hid, (g + 1) * hid)
        return (F.conv2d(a, w[sl, :1], padding=pad) +
                F.conv2d(h, w[sl, 1:], padding=pad) + bias[sl][None, :, None,
                                                               None])

    h = torch.zeros(maps[0].shape[0], hid, *maps[0].shape[-2:],
                    dtype=maps[0].dtype)
    e = torch.zeros_like(h)
    for a in maps:
        i = torch.sigmoid(gate(0, a, h) + lstm.w_ei * e)
        f = torch.sigmoid(gate(1, a, h) + lstm.w_ef * e)
        e = f * e + i * torch.tanh(gate(2, a, h))
        o = torch.sigmoid(gate(3, a, h) + lstm.w_eo * e)
        h = o * torch.tanh(e)
    return h, e


def naive_mf(loss_mod, s_feats, t_feats):
    pool = loss_mod.pool_size
    _, e_s = naive_conv_lstm(loss_mod.conv_lstm,
                             [_loop_pool_cos(x, pool) for x in s_feats])
    _, e_t = naive_conv_lstm(loss_mod.conv_lstm,
                             [_loop_pool_cos(x, pool) for x in t_feats])
    return float(((e_t - e_s)**2).mean() + loss_mod.reg_weight *
                 (1 - e_t).mean())


def _feats(t, b, c, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
            for _ in range(t)]


def test_mf_matches_gate_by_gate_reference():
    torch.manual_seed(0)
    loss = MultiFrameLoss(pool_size=2, reg_weight=0.5).double()
    s, t = _feats(3, 2, 4, 6, 6, 1), _feats(3, 2, 7, 6, 6, 2)
    got = loss(s, t)
    assert got.dtype == torch.float64
    want = naive_mf(loss, s, t)
    assert abs(float(got) - want) < 1e-12 * max(1, abs(want))


def test_mf_gradcheck_inputs_and_convlstm_params():
    torch.manual_seed(1)
    loss = MultiFrameLoss(pool_size=2, hidden_channels=2).double()
    s = [x.requires_grad_() for x in _feats(2, 1, 3, 4, 4, 3)]
    t = _feats(2, 1, 3, 4, 4, 4)
    assert torch.autograd.gradcheck(lambda a, b: loss([a, b], t), tuple(s))
    names = ['conv_lstm.w_ei', 'conv_lstm.w_eo', 'conv_lstm.gates.bias']
    params = tuple(loss.get_parameter(n).detach().clone().requires_grad_()
                   for n in names)
    s = [x.detach() for x in s]
    assert torch.autograd.gradcheck(
        lambda *p: functional_call(loss, dict(zip(names, p)), (s, t)), params)


def test_mf_teacher_gets_no_gradient_convlstm_does():
    loss = MultiFrameLoss(pool_size=2)
    s = [torch.randn(1, 4, 8, 8, requires_grad=True) for _ in range(3)]
    t = [torch.randn(1, 6, 8, 8, requires_grad=True) for _ in range(3)]
    loss(s, t).backward()
    assert all(x.grad is None for x in t)
    assert all(x.grad is not None for x in s)
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0
               for p in loss.conv_lstm.parameters())


def test_convlstm_sequence_and_tensor_input_agree():
    lstm = ConvLSTM(2, 3, 3)
    xs = [torch.randn(2, 2, 5, 5) for _ in range(3)]
    h1, e1 = lstm(xs)
    h2, e2 = lstm(torch.stack(xs, 1))
    torch.testing.assert_close(e1, e2)
    assert h1.shape == e1.shape == (2, 3, 5, 5)


def _in_range(p, lo, hi):
    """Bounds compared in the parameter's dtype (0.05 is not a float32)."""
    return bool((p >= p.new_tensor(lo)).all()
                and (p <= p.new_tensor(hi)).all())


class _Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.mf = MultiFrameLoss(pool_size=2, clip_range=(-0.05, 0.05))

    def forward(self, frames, teacher):
        return self.mf([self.conv(x) for x in frames], teacher)


def test_clip_hook_keeps_weights_in_range_after_a_step():
    torch.manual_seed(2)
    model = _Student()
    lstm = model.mf.conv_lstm
    assert all(_in_range(p, -0.05, 0.05) for p in lstm.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=50.0)
    frames = [torch.randn(2, 3, 8, 8) for _ in range(3)]
    teacher = [torch.randn(2, 5, 8, 8) for _ in range(3)]
    opt.zero_grad()
    model(frames, teacher).backward()
    opt.step()
    # The step pushed weights out of range, so the hook has work to do.
    assert not all(_in_range(p, -0.05, 0.05) for p in lstm.parameters())
    runner = SimpleNamespace(model=nn.DataParallel(model))  # wrapper unwrapped
    hook = ConvLSTMWeightClipHook()
    hook.after_train_iter(runner, batch_idx=0)
    for name, p in lstm.named_parameters():
        assert _in_range(p, -0.05, 0.05), name
    # An explicit range on the hook overrides the module's.
    ConvLSTMWeightClipHook(clip_range=(-0.01, 0.02)).after_train_iter(
        runner, batch_idx=1)
    assert all(_in_range(p, -0.01, 0.02) for p in lstm.parameters())


def test_clip_hook_is_registered():
    from mmseg.registry import HOOKS
    hook = HOOKS.build(dict(type='ConvLSTMWeightClipHook', clip_range=(-1, 1)))
    assert isinstance(hook, ConvLSTMWeightClipHook)
    assert hook.clip_range == (-1.0, 1.0)
    with pytest.raises(ValueError, match='low < high'):
        ConvLSTMWeightClipHook(clip_range=(1, -1))


def _train_convlstm(reg_weight, steps=60):
    """SGD with weight decay on the ConvLSTM alone, fixed random features."""
    torch.manual_seed(0)
    loss = MultiFrameLoss(pool_size=2, reg_weight=reg_weight)
    hook = ConvLSTMWeightClipHook()
    runner = SimpleNamespace(model=loss)
    s = [torch.randn(2, 8, 8, 8) for _ in range(3)]
    t = [torch.randn(2, 12, 8, 8) for _ in range(3)]
    opt = torch.optim.SGD(loss.parameters(), lr=0.1, momentum=0.9,
                          weight_decay=0.1)

    def teacher_memory():
        with torch.no_grad():
            maps = loss._maps(t, (8, 8), torch.float32, teacher=True)
            return float(loss.conv_lstm(maps)[1].abs().mean())

    start = teacher_memory()
    for i in range(steps):
        opt.zero_grad()
        loss(s, t).backward()
        opt.step()
        hook.after_train_iter(runner, i)
    return start, teacher_memory()


def test_regulariser_prevents_collapse_to_zero_state():
    start, without = _train_convlstm(reg_weight=0.0)
    # Without the regulariser the memory collapses towards the all-zero
    # state (E^T = E^S = 0 makes the MF loss zero) ...
    assert without < 0.1 * start
    # ... with it, the same optimiser steps keep it well away from zero.
    _, with_reg = _train_convlstm(reg_weight=1.0)
    assert with_reg > start and with_reg > 0.5
