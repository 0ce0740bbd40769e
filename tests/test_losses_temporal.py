"""Temporal loss (TL, Eq. 1)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmseg_temporal.datasets.synthetic_video import SyntheticVideoGenerator, synthetic_flow_between
from mmseg_temporal.models.losses import TemporalLoss


def _softmax(v):
    m = max(v)
    e = [math.exp(x - m) for x in v]
    s = sum(e)
    return [x / s for x in e]


def naive_tl(lt, ltk, flow, it, itk, valid=None, alpha=1.0, scale=255.0,
             compare='prob', occlusion=True):
    """Loop-level Eq. 1 with its own bilinear sampling (float64)."""
    b_, c_, h, w = lt.shape
    num, den = 0.0, 0
    for b in range(b_):
        q_tk = [[(_softmax(ltk[b, :, y, x].tolist()) if compare == 'prob'
                  else ltk[b, :, y, x].tolist()) for x in range(w)]
                for y in range(h)]

        def sample(get, sx, sy):
            x0, y0 = math.floor(sx), math.floor(sy)
            ax, ay = sx - x0, sy - y0
            acc = None
            for yy, wy in ((y0, 1 - ay), (y0 + 1, ay)):
                for xx, wx in ((x0, 1 - ax), (x0 + 1, ax)):
                    if not (0 <= yy < h and 0 <= xx < w) or wy * wx == 0:
                        continue
                    v = [wy * wx * e for e in get(yy, xx)]
                    acc = v if acc is None else [p + q for p, q in zip(acc, v)]
            return acc

        for y in range(h):
            for x in range(w):
                sx = x + float(flow[b, 0, y, x])
                sy = y + float(flow[b, 1, y, x])
                if not (0 <= sx <= w - 1 and 0 <= sy <= h - 1):
                    continue
                if valid is not None and not valid[b, y, x]:
                    continue
                q_t = (_softmax(lt[b, :, y, x].tolist()) if compare == 'prob'
                       else lt[b, :, y, x].tolist())
                q_w = sample(lambda yy, xx: q_tk[yy][xx], sx, sy)
                v = 1.0
                if occlusion:
                    i_w = sample(lambda yy, xx: itk[b, :, yy, xx].tolist(),
                                 sx, sy)
                    diff = sum(abs(float(p) - q)
                               for p, q in zip(it[b, :, y, x], i_w))
                    v = math.exp(-alpha * diff / scale)
                num += v * sum((p - q)**2 for p, q in zip(q_t, q_w))
                den += 1
    return num / max(den, 1)


def _inputs(seed=0, b=2, c=3, h=5, w=6, flow_scale=1.6):
    g = torch.Generator().manual_seed(seed)
    lt = torch.randn(b, c, h, w, generator=g, dtype=torch.float64) * 2
    ltk = torch.randn(b, c, h, w, generator=g, dtype=torch.float64) * 2
    flow = (torch.rand(b, 2, h, w, generator=g, dtype=torch.float64) * 2 -
            1) * flow_scale
    it = torch.rand(b, 3, h, w, generator=g, dtype=torch.float64) * 255
    itk = torch.rand(b, 3, h, w, generator=g, dtype=torch.float64) * 255
    return lt, ltk, flow, it, itk


@pytest.mark.parametrize('compare', ['prob', 'logits'])
def test_tl_matches_loop_reference(compare):
    lt, ltk, flow, it, itk = _inputs()
    g = torch.Generator().manual_seed(9)
    valid = torch.rand(2, 5, 6, generator=g) > .2
    loss = TemporalLoss(compare=compare, alpha=2.0, pixel_scale=100.0)
    got = loss(lt, ltk, flow, it, itk, valid=valid)
    want = naive_tl(lt, ltk, flow, it, itk, valid, alpha=2.0, scale=100.0,
                    compare=compare)
    assert got.dtype == torch.float64
    assert abs(float(got) - want) <= 1e-12 * max(1.0, abs(want))
    # Some pixels leave the frame, so the in-frame mask is exercised.
    assert want > 0


def test_tl_without_occlusion_and_weight():
    lt, ltk, flow, it, itk = _inputs(seed=3)
    got = TemporalLoss(use_occlusion=False, loss_weight=0.1)(lt, ltk, flow, it,
                                                             itk)
    want = 0.1 * naive_tl(lt, ltk, flow, it, itk, occlusion=False)
    assert abs(float(got) - want) <= 1e-12


def test_tl_upsamples_logits_to_flow_resolution():
    lt, ltk, flow, it, itk = _inputs(seed=4, h=8, w=10)
    small_t = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    small_tk = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    loss = TemporalLoss()
    got = loss(small_t, small_tk, flow, it, itk)
    up = [F.interpolate(x, size=(8, 10), mode='bilinear', align_corners=False)
          for x in (small_t, small_tk)]
    assert abs(float(got) - float(loss(*up, flow, it, itk))) < 1e-12


def test_tl_gradcheck_and_detach_option():
    lt, ltk, flow, it, itk = _inputs(seed=5, b=1, c=3, h=4, w=5)
    lt.requires_grad_()
    ltk.requires_grad_()
    loss = TemporalLoss()
    assert torch.autograd.gradcheck(
        lambda a, b: loss(a, b, flow, it, itk), (lt, ltk))
    det = TemporalLoss(detach_warped=True)
    det(lt, ltk, flow, it, itk).backward()
    assert ltk.grad is None and lt.grad is not None
    assert float(lt.grad.abs().sum()) > 0


def _synthetic_pair(k=2, seed=0):
    gen = SyntheticVideoGenerator(height=48, width=64, seed=seed)
    video = gen.render(0, k + 1)
    flow, visible = synthetic_flow_between(video['layers'][0],
                                           video['layers'][k],
                                           video['velocities'], k)
    imgs = torch.from_numpy(video['imgs']).permute(0, 3, 1, 2).float()
    labels = torch.from_numpy(video['labels'].astype(np.int64))
    return (imgs[0:1], imgs[k:k + 1], labels[0:1], labels[k:k + 1],
            torch.from_numpy(flow)[None], torch.from_numpy(visible)[None])


def _one_hot_logits(labels, num_classes=5, scale=10.0):
    return F.one_hot(labels, num_classes).permute(0, 3, 1, 2).float() * scale


def test_tl_zero_for_prediction_moving_with_scene_positive_for_flicker():
    img_t, img_tk, lab_t, lab_tk, flow, visible = _synthetic_pair(k=2)
    # The scene moves between the frames, so the check is not trivial.
    assert float(flow.abs().max()) > 0 and not torch.equal(lab_t, lab_tk)
    assert visible.float().mean() > 0.5
    loss = TemporalLoss()
    consistent = loss(_one_hot_logits(lab_t), _one_hot_logits(lab_tk), flow,
                      img_t, img_tk, valid=visible)
    assert float(consistent) < 1e-10
    # Flicker: frame t+k's prediction swaps the two background classes.
    flicker_tk = torch.where(lab_tk < 2, 1 - lab_tk, lab_tk)
    flickering = loss(_one_hot_logits(lab_t), _one_hot_logits(flicker_tk),
                      flow, img_t, img_tk, valid=visible)
    assert float(flickering) > 0.5
    # Ignoring the motion (zero flow) also makes the moving prediction
    # inconsistent: the flow is what makes it consistent.
    static = loss(_one_hot_logits(lab_t), _one_hot_logits(lab_tk),
                  torch.zeros_like(flow), img_t, img_tk)
    assert float(static) > 1e-3


def _flip_pair(p, num_classes):
    """Logits (as log-probabilities) of a confident flip at one pixel: frame
    t says class 0 with probability p, frame t+1 says class 1 with p; the
    other classes share 1 - p."""
    rest = (1 - p) / (num_classes - 1)
    q_t = torch.full((num_classes,), rest, dtype=torch.float64)
    q_tk = q_t.clone()
    q_t[0] = q_tk[1] = p
    return q_t, q_tk


def _hand_gradient(compare, q_t, q_tk, weight):
    """d loss / d z_t at the pixel, written out (N = 1, V = 1)."""
    if compare == 'prob':  # 2 J^T (q_t - q_tk), J = diag(q) - q q^T
        jac = torch.diag(q_t) - torch.outer(q_t, q_t)
        return weight * 2 * jac.T @ (q_t - q_tk)
    if compare == 'logits':  # 2 (z_t - z_tk)
        return weight * 2 * (q_t.log() - q_tk.log())
    return weight * (q_t - q_tk)  # kl: the cross-entropy's gradient


@pytest.mark.parametrize('compare', TemporalLoss.COMPARE)
@pytest.mark.parametrize('p', [0.65, 0.99])
def test_tl_gradient_on_a_confident_flip(compare, p):
    """The gradient each form gives a flickering pixel, against the closed
    form; 'kl' keeps its strength as the prediction becomes confident
    where 'prob' loses it."""
    q_t, q_tk = _flip_pair(p, 5)
    z_t = q_t.log().reshape(1, 5, 1, 1).requires_grad_()
    z_tk = q_tk.log().reshape(1, 5, 1, 1)
    zero = torch.zeros(1, 2, 1, 1, dtype=torch.float64)
    img = torch.zeros(1, 3, 1, 1, dtype=torch.float64)
    loss = TemporalLoss(compare=compare, loss_weight=0.1)
    loss(z_t, z_tk, zero, img, img).backward()
    want = _hand_gradient(compare, q_t, q_tk, 0.1)
    torch.testing.assert_close(z_t.grad.flatten(), want, rtol=1e-10, atol=1e-12)
    # Norms quoted in docs/losses.md (5 classes, loss_weight 0.1).
    quoted = {('prob', 0.65): 0.0368, ('prob', 0.99): 0.0028,
              ('logits', 0.65): 0.5672, ('logits', 0.99): 1.6918,
              ('kl', 0.65): 0.0795, ('kl', 0.99): 0.1397}
    assert abs(float(z_t.grad.norm()) - quoted[compare, p]) < 1e-4


def test_tl_kl_is_symmetric_kl_and_zero_for_agreement():
    lt, ltk, flow, it, itk = _inputs(seed=6)
    loss = TemporalLoss(compare='kl', use_occlusion=False)
    zero = torch.zeros_like(flow)
    # Zero flow: the warp is the identity, so the loss is the mean over
    # pixels of sum_c (q_tk - q_t)(log q_tk - log q_t).
    q_t, q_tk = lt.softmax(1), ltk.softmax(1)
    want = ((q_tk - q_t) * (q_tk.log() - q_t.log())).sum(1).mean()
    torch.testing.assert_close(loss(lt, ltk, zero, it, itk), want)
    # Agreeing frames with different logit scales: no loss ('logits' has).
    shifted = lt + 3.0
    assert float(loss(lt, shifted, zero, it, itk)) < 1e-12
    assert float(TemporalLoss(compare='logits', use_occlusion=False)(
        lt, shifted, zero, it, itk)) > 1.0


def test_tl_kl_gradient_on_both_frames_is_cross_entropy_like():
    """Zero flow, no occlusion weight: d/dz_t = (q_t - q_tk) / N and
    d/dz_tk = (q_tk - q_t) / N at every pixel."""
    lt, ltk, flow, it, itk = _inputs(seed=7, b=1, c=3, h=4, w=5)
    lt.requires_grad_()
    ltk.requires_grad_()
    loss = TemporalLoss(compare='kl', use_occlusion=False)
    loss(lt, ltk, torch.zeros_like(flow), it, itk).backward()
    diff = (lt.softmax(1) - ltk.softmax(1)).detach() / (4 * 5)
    torch.testing.assert_close(lt.grad, diff)
    torch.testing.assert_close(ltk.grad, -diff)


def test_tl_unknown_compare_names_the_choices():
    with pytest.raises(ValueError, match="'prob', 'logits', 'kl'"):
        TemporalLoss(compare='mse')


def test_synthetic_default_tl_gradient_on_a_confident_flip():
    """The synthetic configs' TL (the release's logits form at 0.1 / 5,
    chosen from the paired studies) on a pixel that flips from class 0 to
    class 1 at p = 0.99: the gradient on frame t's logits, by hand:
    2 x 0.02 x (log 0.99 - log 0.0025) = +-0.2393 on the two classes."""
    import os.path as osp

    from mmengine.config import Config
    from mmseg.registry import MODELS
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for name in ('pspnet_tiny_tl_synthetic', 'pspnet_tiny_etc_synthetic'):
        cfg = Config.fromfile(osp.join(root, 'configs', 'synthetic', f'{name}.py'))
        loss = MODELS.build(cfg.model.losses.tl)
        q_t, q_tk = _flip_pair(0.99, 5)
        z_t = q_t.log().reshape(1, 5, 1, 1).requires_grad_()
        zero = torch.zeros(1, 2, 1, 1, dtype=torch.float64)
        img = torch.zeros(1, 3, 1, 1, dtype=torch.float64)
        loss(z_t, q_tk.log().reshape(1, 5, 1, 1), zero, img, img).backward()
        want = torch.tensor([0.23926, -0.23926, 0., 0., 0.], dtype=torch.float64)
        torch.testing.assert_close(z_t.grad.flatten(), want, rtol=0, atol=1e-5)
