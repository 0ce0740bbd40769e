"""Properties shared by all losses: registry, names, gradients, dtype,
shape errors and non-finite detection."""
import re

import pytest
import torch
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401  (registers the losses)

B, C, H, W = 2, 5, 8, 8


def _inputs(name, teacher_grad=False, dtype=torch.float32):
    """Student tensors (requires grad) and teacher/flow tensors."""
    g = torch.Generator().manual_seed(0)

    def r(*shape, scale=1.0, grad=True):
        return (torch.randn(*shape, generator=g) * scale).to(dtype) \
            .requires_grad_(grad)

    if name == 'TemporalLoss':
        student = [r(B, C, H, W), r(B, C, H, W)]
        flow = r(B, 2, H, W, grad=teacher_grad)
        imgs = [r(B, 3, H, W, scale=50, grad=teacher_grad) for _ in range(2)]
        return student, [flow] + imgs, lambda s, t: (s[0], s[1], *t)
    if name == 'PixelwiseKDLoss':
        return [r(B, C, H, W)], [r(B, C, H, W, grad=teacher_grad)], \
            lambda s, t: (s[0], t[0])
    if name == 'IntraFrameSimilarityLoss':
        return [r(B, 6, H, W)], [r(B, 10, H, W, grad=teacher_grad)], \
            lambda s, t: (s[0], t[0])
    if name == 'CrossFrameSimilarityLoss':
        return [r(B, C, H, W), r(B, C, H, W)], \
            [r(B, C, H, W, grad=teacher_grad) for _ in range(2)], \
            lambda s, t: (s[0], s[1], t[0], t[1])
    if name == 'MultiFrameLoss':
        return [r(B, 6, H, W) for _ in range(3)], \
            [r(B, 10, H, W, grad=teacher_grad) for _ in range(3)], \
            lambda s, t: (s, t)
    raise KeyError(name)


LOSSES = {
    'TemporalLoss': ({}, 'loss_tl'),
    'PixelwiseKDLoss': ({}, 'loss_sf_pixel'),
    'IntraFrameSimilarityLoss': ({}, 'loss_sf_pair'),
    'CrossFrameSimilarityLoss': ({}, 'loss_pf'),
    'MultiFrameLoss': (dict(pool_size=2), 'loss_mf'),
}


def _build(name, **kw):
    cfg, _ = LOSSES[name]
    return MODELS.build(dict(type=name, **cfg, **kw))


@pytest.mark.parametrize('name', list(LOSSES))
def test_registered_named_weighted(name):
    loss = _build(name)
    assert loss.loss_name == LOSSES[name][1]
    s, t, args = _inputs(name)
    value = loss(*args(s, t))
    assert value.dim() == 0 and value.dtype == torch.float32
    assert torch.isfinite(value)
    scaled = _build(name, loss_weight=0.25, loss_name='loss_other')
    if name == 'MultiFrameLoss':
        scaled.load_state_dict(loss.state_dict())
    assert scaled.loss_name == 'loss_other'
    torch.testing.assert_close(scaled(*args(s, t)), 0.25 * value)
    with pytest.raises(ValueError, match='loss_'):
        _build(name, loss_name='tl')


@pytest.mark.parametrize('name', list(LOSSES))
def test_no_gradient_to_teacher_or_flow(name):
    loss = _build(name)
    s, t, args = _inputs(name, teacher_grad=True)
    loss(*args(s, t)).backward()
    assert all(x.grad is None for x in t)
    assert any(x.grad is not None and float(x.grad.abs().sum()) > 0
               for x in s)


@pytest.mark.parametrize('name', list(LOSSES))
def test_float32_under_autocast(name):
    loss = _build(name)
    s, t, args = _inputs(name)
    ref = loss(*args(s, t))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        inside = loss(*args(s, t))
        # Half-precision inputs, as an autocast network produces them.
        half = loss(*args([x.bfloat16() for x in s],
                          [x.bfloat16() for x in t]))
    assert inside.dtype == torch.float32 and half.dtype == torch.float32
    torch.testing.assert_close(inside, ref, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(half, ref, rtol=0.1, atol=1e-3)
    half.backward()
    assert all(x.grad is None or torch.isfinite(x.grad).all() for x in s)


def _shape_re(a, b):
    return re.escape(str(tuple(a))) + '.*' + re.escape(str(tuple(b)))


def test_shape_errors_name_both_shapes():
    tl = _build('TemporalLoss')
    s, t, _ = _inputs('TemporalLoss')
    with pytest.raises(ValueError, match=_shape_re((B, C, H, W),
                                                   (B, C, H, 4))):
        tl(s[0], s[1][..., :4], *t)
    with pytest.raises(ValueError, match=_shape_re((B, 2, H, 4),
                                                   (B, 3, H, W))):
        tl(s[0], s[1], t[0][..., :4], t[1], t[2])
    with pytest.raises(ValueError, match=_shape_re((B, 1, 4, 4),
                                                   (B, 2, H, W))):
        tl(s[0], s[1], *t, valid=torch.ones(B, 1, 4, 4))
    kd = _build('PixelwiseKDLoss')
    with pytest.raises(ValueError, match=_shape_re((B, C, H, W),
                                                   (B, 3, H, W))):
        kd(s[0], torch.randn(B, 3, H, W))
    pa = _build('IntraFrameSimilarityLoss')
    with pytest.raises(ValueError, match=_shape_re((B, C, H, W),
                                                   (1, C, H, W))):
        pa(s[0], torch.randn(1, C, H, W))
    pf = _build('CrossFrameSimilarityLoss')
    with pytest.raises(ValueError, match=_shape_re((B, C, H, W),
                                                   (B, C, 4, W))):
        pf(s[0], s[0][:, :, :4], s[0], s[0])
    with pytest.raises(ValueError, match=_shape_re((B, C, H, W),
                                                   (B, C, H, 2))):
        pf(s[0], s[0], s[0], s[0][..., :2])
    mf = _build('MultiFrameLoss')
    with pytest.raises(ValueError, match=_shape_re((B, C, H, 6),
                                                   (B, C, H, W))):
        mf([s[0], s[0][..., :6]], [s[0], s[0]])
    with pytest.raises(ValueError, match='3 dims|\\(B, C, H, W\\)'):
        kd(s[0][0], s[0][0])


@pytest.mark.parametrize('name', list(LOSSES))
def test_nan_input_raises_floating_point_error_naming_loss(name):
    loss = _build(name)
    s, t, args = _inputs(name)
    s = [x.detach().clone() for x in s]
    s[0][0, 0, 0, 0] = float('nan')
    with pytest.raises(FloatingPointError, match=LOSSES[name][1]):
        loss(*args(s, t))
    s[0][0, 0, 0, 0] = float('inf')
    with pytest.raises(FloatingPointError, match=LOSSES[name][1]):
        loss(*args(s, t))
