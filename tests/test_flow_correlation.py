"""The pure-PyTorch correlation against a loop over its definition."""
import importlib

import pytest
import torch

from mmseg_temporal.flow.estimators import correlation
from mmseg_temporal.flow.estimators.correlation import Correlation

# the submodule (the package's ``correlation`` name is the function)
corr_module = importlib.import_module(
    'mmseg_temporal.flow.estimators.correlation')


def naive_correlation(in1, in2, kernel_size, max_displacement, stride,
                      padding, dilation, dilation_patch):
    """mmcv's CUDA kernel written as plain loops (one output at a time)."""
    n, c, h, w = in1.shape
    k, md, s, p, d, dp = (kernel_size, max_displacement, stride, padding,
                          dilation, dilation_patch)
    out_h = (h + 2 * p - (k - 1) * d - 1) // s + 1
    out_w = (w + 2 * p - (k - 1) * d - 1) // s + 1
    patch = 2 * md + 1
    out = torch.zeros(n, patch, patch, out_h, out_w, dtype=in1.dtype)
    for ph in range(patch):
        for pw in range(patch):
            dy, dx = (ph - md) * dp, (pw - md) * dp
            for oy in range(out_h):
                for ox in range(out_w):
                    acc = torch.zeros(n, dtype=in1.dtype)
                    for i in range(k):
                        for j in range(k):
                            y1, x1 = oy * s - p + i * d, ox * s - p + j * d
                            y2, x2 = y1 + dy, x1 + dx
                            if (0 <= y1 < h and 0 <= x1 < w and 0 <= y2 < h
                                    and 0 <= x2 < w):
                                acc += (in1[:, :, y1, x1] *
                                        in2[:, :, y2, x2]).sum(1)
                    out[:, ph, pw, oy, ox] = acc
    return out


# (kernel_size, max_displacement, stride, padding, dilation, dilation_patch)
SETTINGS = [
    (1, 2, 1, 0, 1, 1),
    (1, 2, 1, 0, 1, 2),  # FlowNetC's kind: dilated patch
    (1, 3, 2, 0, 1, 2),
    (3, 1, 2, 1, 1, 1),
    (3, 2, 1, 2, 2, 1),
    (2, 1, 1, 0, 1, 3),
]


@pytest.mark.parametrize('setting', SETTINGS)
def test_matches_naive_definition(setting):
    g = torch.Generator().manual_seed(0)
    in1 = torch.randn(2, 3, 7, 9, generator=g, dtype=torch.float64)
    in2 = torch.randn(2, 3, 7, 9, generator=g, dtype=torch.float64)
    expected = naive_correlation(in1, in2, *setting)
    out = correlation(in1, in2, *setting, backend='torch')
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, atol=1e-12)
    module = Correlation(*setting, backend='torch')
    assert torch.equal(module(in1, in2), out)


def test_column_tiling_matches(monkeypatch):
    """Inputs wider than one column tile (several matrix products)."""
    g = torch.Generator().manual_seed(1)
    in1 = torch.randn(1, 4, 5, 11, generator=g, dtype=torch.float64)
    in2 = torch.randn(1, 4, 5, 11, generator=g, dtype=torch.float64)
    setting = (1, 2, 1, 0, 1, 2)
    expected = naive_correlation(in1, in2, *setting)
    monkeypatch.setattr(corr_module, '_TILE_W', 3)
    out = correlation(in1, in2, *setting, backend='torch')
    assert torch.allclose(out, expected, atol=1e-12)


def test_flownetc_layout_and_identity_shift():
    """Channel ph, pw of a feature map correlated with its own shift."""
    g = torch.Generator().manual_seed(2)
    f1 = torch.randn(1, 8, 12, 16, generator=g)
    # f2 is f1 moved by dx = +4, dy = -2 pixels: f2[y, x] = f1[y + 2, x - 4]
    f2 = torch.zeros_like(f1)
    f2[:, :, :-2, 4:] = f1[:, :, 2:, :-4]
    out = correlation(f1, f2, 1, 10, 1, 0, 1, 2)
    assert out.shape == (1, 21, 21, 12, 16)
    # the matching displacement is dy = -2, dx = +4 -> ph = 9, pw = 12
    best = out[0, :, :, 6, 6].flatten().argmax().item()
    assert divmod(best, 21) == (9, 12)


def test_gradient_flows():
    in1 = torch.randn(1, 2, 4, 5, requires_grad=True)
    in2 = torch.randn(1, 2, 4, 5, requires_grad=True)
    correlation(in1, in2, 1, 1).sum().backward()
    assert in1.grad is not None and in2.grad is not None


def test_invalid_arguments():
    x = torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match='same shape'):
        correlation(x, torch.zeros(1, 2, 4, 5))
    with pytest.raises(ValueError, match='backend'):
        correlation(x, x, backend='cuda')
    with pytest.raises(ValueError, match='stride'):
        correlation(x, x, stride=0)
