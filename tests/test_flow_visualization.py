"""Middlebury colour coding of flow."""
import numpy as np
import pytest
import torch

from mmseg_temporal.flow.visualization import flow_to_color, make_color_wheel


def test_wheel_has_55_hues_from_red():
    wheel = make_color_wheel()
    assert wheel.shape == (55, 3)
    assert tuple(wheel[0]) == (255, 0, 0)  # red
    assert tuple(wheel[15]) == (255, 255, 0)  # yellow after RY = 15
    assert tuple(wheel[21]) == (0, 255, 0)  # green after YG = 6
    assert tuple(wheel[25]) == (0, 255, 255)  # cyan after GC = 4
    assert tuple(wheel[36]) == (0, 0, 255)  # blue after CB = 11
    assert tuple(wheel[49]) == (255, 0, 255)  # magenta after BM = 13


def _color_of(u, v):
    flow = np.zeros((2, 1, 2), dtype=np.float32)
    flow[:, 0, 0] = (u, v)  # second pixel: zero flow
    return flow_to_color(flow)


def test_known_directions():
    right = _color_of(1., 1e-6)[0, 0]
    assert right[0] == 255 and right[1] < 10 and right[2] < 10  # red
    left = _color_of(-1., 0.)[0, 0]
    assert left[0] == 0 and left[1] > 150 and left[2] == 255  # cyan-blue
    up = _color_of(0., -1.)[0, 0]  # image y points down: v < 0 is up
    assert up[2] == 255 and up[1] == 0 and 40 < up[0] < 140  # violet
    down = _color_of(0., 1.)[0, 0]
    assert down[0] == 255 and down[1] > 200 and down[2] == 0  # yellow


def test_zero_flow_is_white_and_magnitude_saturates():
    img = _color_of(3., 0.)
    assert tuple(img[0, 1]) == (255, 255, 255)
    half = flow_to_color(np.array([[[1.5, 3.]], [[1e-6, 0.]]]))
    # half the maximum magnitude: halfway between white and red
    assert half[0, 0, 0] == 255 and 120 <= half[0, 0, 1] <= 135


def test_layouts_tensor_and_max_flow():
    flow = torch.randn(2, 5, 6)
    img = flow_to_color(flow)
    assert img.dtype == np.uint8 and img.shape == (5, 6, 3)
    assert np.array_equal(img, flow_to_color(flow.permute(1, 2, 0).numpy()))
    # with a larger max_flow the same field is paler (closer to white)
    pale = flow_to_color(flow, max_flow=10 * flow.norm(dim=0).max().item())
    assert pale.astype(int).sum() > img.astype(int).sum()
    with pytest.raises(ValueError, match='shape'):
        flow_to_color(np.zeros((3, 4, 5)))
