"""DISFlow: the frozen OpenCV estimator behind the common interface."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_temporal.flow.estimators.base import BaseFlowEstimator
from mmseg_temporal.flow.estimators.dis_flow import DISFlow


def textured_image(h, w, seed=0):
    """(1, 3, H, W) float RGB in [0, 255]: smooth random texture."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 4, w // 4, generator=g)
    img = F.interpolate(coarse, size=(h, w), mode='bicubic',
                        align_corners=False)
    fine = torch.rand(1, 3, h, w, generator=g)
    return (0.8 * img + 0.2 * fine).clamp(0, 1) * 255


def test_frozen_interface():
    est = DISFlow(preset='fast')
    assert isinstance(est, BaseFlowEstimator)
    est.train()
    assert not est.training
    img = textured_image(32, 48).requires_grad_(True)
    flow = est(img, img)
    assert not flow.requires_grad


@pytest.mark.parametrize('dtype', [torch.float64, torch.uint8])
def test_shape_dtype_device(dtype):
    est = DISFlow(preset='ultrafast')
    img1 = torch.cat([textured_image(40, 56, s) for s in (0, 1)])
    img2 = torch.cat([textured_image(40, 56, s) for s in (2, 3)])
    flow = est(img1.to(dtype), img2.to(dtype))
    assert flow.shape == (2, 2, 40, 56)
    assert flow.dtype == torch.float32
    assert flow.device == img1.device
    assert torch.isfinite(flow).all()


@pytest.mark.parametrize('preset', ['fast', 'medium'])
def test_recovers_integer_translation(preset):
    dx, dy = 3, -2
    img1 = textured_image(96, 128, seed=4)
    # img2[y, x] = img1[y - dy, x - dx]: every pixel of img1 moves by
    # (dx, dy), so the flow from img1 to img2 is (dx, dy) everywhere.
    img2 = torch.roll(img1, shifts=(dy, dx), dims=(2, 3))
    flow = DISFlow(preset=preset)(img1, img2)[0]
    inner = flow[:, 8:-8, 8:-8]  # away from the wrapped-around border
    epe = torch.sqrt((inner[0] - dx)**2 + (inner[1] - dy)**2)
    assert epe.mean().item() < 0.25
    # and not the reverse direction (sign convention)
    assert (inner[0].median() - dx).abs() < 0.5
    assert (inner[1].median() - dy).abs() < 0.5


def test_preset_validation_and_registry():
    with pytest.raises(ValueError, match='slow'):
        DISFlow(preset='slow')
    est = MODELS.build(dict(type='DISFlow', preset='medium'))
    assert isinstance(est, DISFlow) and est.preset == 'medium'


def test_input_validation():
    est = DISFlow()
    with pytest.raises(ValueError, match='same shape'):
        est(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        est(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    assert np.isclose(est(torch.zeros(1, 3, 16, 16),
                          torch.zeros(1, 3, 16, 16)).abs().max().item(), 0)


def test_flow_of_images_equals_the_tensor_call():
    """flow_of_images (arrays in, array out: what the TC metric and the flow
    cache use) gives the estimator's own flow."""
    from mmseg_temporal.flow.sources.estimator import flow_of_images
    a, b = textured_image(40, 56, seed=1), textured_image(40, 56, seed=2)
    est = DISFlow(preset='fast')
    direct = est(a, b)[0].numpy()
    as_array = lambda t: t[0].permute(1, 2, 0).round().byte().numpy()  # noqa
    a_u8, b_u8 = as_array(a), as_array(b)
    out = flow_of_images(est, a_u8, b_u8)
    assert out.shape == (2, 40, 56) and out.dtype == np.float32
    ref = est(torch.from_numpy(a_u8).permute(2, 0, 1)[None].float(),
              torch.from_numpy(b_u8).permute(2, 0, 1)[None].float())[0]
    np.testing.assert_array_equal(out, ref.numpy())
    assert np.abs(out - direct).mean() < 0.5  # uint8 rounding only
