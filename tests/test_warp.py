"""flow_warp (the one backward warp) and the occlusion mask."""
import numpy as np
import pytest
import torch

from mmseg_temporal.datasets.synthetic_video import SyntheticVideoGenerator, synthetic_flow_between
from mmseg_temporal.flow.ops import flow_warp, occlusion_mask


@pytest.mark.parametrize('dx,dy', [(3, 0), (0, -2), (-4, 5), (7, 7)])
def test_integer_shift_is_exact(dx, dy):
    x = torch.randn(2, 4, 16, 20, dtype=torch.float64)
    flow = torch.zeros(2, 2, 16, 20, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = dx, dy
    for mode in ('bilinear', 'nearest'):
        out, valid = flow_warp(x, flow, mode=mode)
        ys, xs = np.mgrid[0:16, 0:20]
        inside = (xs + dx >= 0) & (xs + dx < 20) & (ys + dy >= 0) & (ys + dy < 16)
        assert torch.equal(valid[0, 0], torch.from_numpy(inside))
        m = torch.from_numpy(inside)
        expect = torch.roll(x, shifts=(-dy, -dx), dims=(2, 3))  # x[p + d]
        assert torch.allclose(out[..., m], expect[..., m], atol=1e-12)
        assert valid.shape == (2, 1, 16, 20) and valid.dtype == torch.bool


def test_bilinear_interpolates_halfway():
    x = torch.arange(5, dtype=torch.float32).view(1, 1, 1, 5).repeat(1, 1, 3, 1)
    flow = torch.zeros(1, 2, 3, 5)
    flow[:, 0] = 0.5
    out, valid = flow_warp(x, flow)
    assert torch.allclose(out[0, 0, :, :4], x[0, 0, :, :4] + 0.5)
    assert not valid[0, 0, :, 4].any() and valid[0, 0, :, :4].all()


def test_matches_synthetic_ground_truth():
    """Warping frame j's labels and pixels with the exact flow i -> j gives
    frame i wherever the flow says the pixel is visible."""
    v = SyntheticVideoGenerator(seed=5).render(1, 8)
    for i, j in [(2, 3), (6, 1)]:
        flow, vis = synthetic_flow_between(v['layers'][i], v['layers'][j],
                                           v['velocities'], j - i)
        f = torch.from_numpy(flow)[None]
        lab, inside = flow_warp(torch.from_numpy(v['labels'][j])[None, None].long(),
                                f, mode='nearest')
        img, _ = flow_warp(torch.from_numpy(v['imgs'][j]).permute(2, 0, 1)[None].float(), f)
        m = torch.from_numpy(vis)
        assert inside[0, 0][m].all()
        assert torch.equal(lab[0, 0][m], torch.from_numpy(v['labels'][i]).long()[m])
        assert torch.allclose(img[0].permute(1, 2, 0)[m],
                              torch.from_numpy(v["imgs"][i]).float()[m], atol=1e-3)


def test_nearest_never_invents_a_class():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 3, 7, 255])[torch.randint(0, 4, (2, 1, 24, 24), generator=g)]
    flow = torch.randn(2, 2, 24, 24, generator=g) * 5  # fractional flows
    out, _ = flow_warp(labels, flow, mode='nearest')
    assert out.dtype == labels.dtype
    assert set(out.unique().tolist()) <= {0, 3, 7, 255}


def test_bad_shapes_and_mode():
    with pytest.raises(ValueError, match=r'\(1, 3, 8, 8\).*\(1, 2, 8, 9\)'):
        flow_warp(torch.zeros(1, 3, 8, 8), torch.zeros(1, 2, 8, 9))
    with pytest.raises(ValueError, match='mode'):
        flow_warp(torch.zeros(1, 3, 8, 8), torch.zeros(1, 2, 8, 8), mode='cubic')


def test_occlusion_mask_formula():
    a = torch.full((1, 3, 2, 2), 100.)
    b = a.clone()
    b[..., 0, 0] = 100. + 51.  # |diff| summed over 3 channels = 153
    v = occlusion_mask(a, b)
    assert v.shape == (1, 1, 2, 2)
    assert torch.allclose(v[0, 0, 0, 0], torch.exp(torch.tensor(-153 / 255.)))
    assert torch.equal(v[0, 0, 1], torch.ones(2))
    assert not v.requires_grad
