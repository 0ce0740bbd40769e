"""Correlation (cost volume) of two feature maps, as ``mmcv.ops.Correlation``.

The one correlation of the project. Semantics are those of mmcv 2.1.0's
CUDA kernel (``correlation_forward_cuda_kernel``)::

    out[n, ph, pw, h, w] = sum_{i < kH, j < kW} sum_c
        in1[n, c, y1, x1] * in2[n, c, y1 + dy, x1 + dx]
    y1 = h * stride - padding + i * dilation
    x1 = w * stride - padding + j * dilation
    dy = (ph - max_displacement) * dilation_patch
    dx = (pw - max_displacement) * dilation_patch

where a term counts only if both ``(y1, x1)`` and ``(y1 + dy, x1 + dx)``
lie inside the map (zero padding of both inputs). The output has shape
``(N, 2 md + 1, 2 md + 1, H_out, W_out)``, the first patch axis vertical,
``H_out = (H + 2 padding - dilation (kernel_size - 1) - 1) // stride + 1``.

On CUDA tensors the compiled mmcv op is used when ``mmcv.ops`` is
importable; otherwise (and always on the CPU, where mmcv has no kernel) a
pure-PyTorch implementation runs. The latter loops over vertical
displacements and computes, for a tile of columns, all horizontal
displacements at once with one batched matrix product, keeping memory at
the size of the output slice.
"""
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

__all__ = ['Correlation', 'correlation']

# Columns of in1 handled per matrix product: bounds both the temporary of
# shape (N*H, tile, tile + 2 * radius) and the work wasted outside the band.
_TILE_W = 64

IntOrPair = Union[int, Tuple[int, int]]


def _mmcv_correlation_function():
    """``mmcv.ops.correlation.CorrelationFunction`` or None if unavailable."""
    try:
        from mmcv.ops.correlation import CorrelationFunction
    except (ImportError, OSError):  # no compiled ops in this install
        return None
    return CorrelationFunction


def _output_size(size: int, kernel: int, stride: int, padding: int,
                 dilation: int) -> int:
    dilated_k = (kernel - 1) * dilation + 1
    return (size + 2 * padding - dilated_k) // stride + 1


def _correlation_torch(in1: Tensor, in2: Tensor, kernel: Tuple[int, int],
                       max_displacement: int, stride: Tuple[int, int],
                       padding: Tuple[int, int], dilation: Tuple[int, int],
                       dilation_patch: Tuple[int, int]) -> Tensor:
    """Pure-PyTorch correlation, see the module docstring for the formula."""
    n, c, h, w = in1.shape
    (kh, kw), (sh, sw), (ph_, pw_) = kernel, stride, padding
    (dh, dw), (dph, dpw) = dilation, dilation_patch
    out_h = _output_size(h, kh, sh, ph_, dh)
    out_w = _output_size(w, kw, sw, pw_, dw)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f'correlation: input of size {h}x{w} gives an empty '
                         f'output ({out_h}x{out_w}) with kernel_size={kernel},'
                         f' stride={stride}, padding={padding}, '
                         f'dilation={dilation}')
    patch = 2 * max_displacement + 1
    rad_h, rad_w = max_displacement * dph, max_displacement * dpw
    # Positions of in1 (padded coordinates) that any kernel tap reads.
    need_h = (out_h - 1) * sh + (kh - 1) * dh + 1
    need_w = (out_w - 1) * sw + (kw - 1) * dw + 1

    in1p = F.pad(in1, (pw_, pw_, ph_, ph_))[:, :, :need_h, :need_w]
    # in2 padded by the displacement radius as well: row y of padded in1
    # meets row y + ph * dph of this tensor for patch row ph.
    in2p = F.pad(in2, (pw_ + rad_w, pw_ + rad_w, ph_ + rad_h, ph_ + rad_h))
    a = in1p.permute(0, 2, 3, 1)  # (N, need_h, need_w, C)
    b = in2p.permute(0, 2, 1, 3).contiguous()  # (N, H2, C, W2)
    tiles_x = [(x0, min(_TILE_W, need_w - x0))
               for x0 in range(0, need_w, _TILE_W)]
    lhs_tiles = [a[:, :, x0:x0 + t].reshape(n * need_h, t, c)
                 for x0, t in tiles_x]

    box = None
    if kh > 1 or kw > 1:
        box = in1.new_ones(1, 1, kh, kw)

    rows = []
    for ph in range(patch):
        b_rows = b[:, ph * dph:ph * dph + need_h]
        tiles = []
        for (x0, t), lhs in zip(tiles_x, lhs_tiles):
            span = t + 2 * rad_w
            rhs = b_rows[..., x0:x0 + span].reshape(n * need_h, c, span)
            prod = torch.bmm(lhs, rhs)  # (N*need_h, t, span)
            # Column x of the tile meets columns x + pw * dpw, pw < patch.
            band = prod.as_strided((n * need_h, t, patch),
                                   (t * span, span + 1, dpw),
                                   prod.storage_offset())
            tiles.append(band.reshape(n, need_h, t, patch))
        dense = torch.cat(tiles, dim=2).permute(0, 3, 1, 2)  # (N, P, nh, nw)
        if box is None:
            row = dense[:, :, ::sh, ::sw]
        else:
            row = F.conv2d(
                dense.reshape(n * patch, 1, need_h, need_w),
                box,
                stride=(sh, sw),
                dilation=(dh, dw)).reshape(n, patch, out_h, out_w)
        rows.append(row)
    return torch.stack(rows, dim=1)


def correlation(input1: Tensor,
                input2: Tensor,
                kernel_size: IntOrPair = 1,
                max_displacement: int = 1,
                stride: IntOrPair = 1,
                padding: IntOrPair = 0,
                dilation: IntOrPair = 1,
                dilation_patch: IntOrPair = 1,
                backend: str = 'auto') -> Tensor:
    """Correlation of two feature maps with ``mmcv.ops.Correlation``'s rules.

    Args:
        input1: ``(N, C, H, W)`` features of the first image.
        input2: ``(N, C, H, W)`` features of the second image.
        kernel_size: size of the summed window around each position.
        max_displacement: radius ``md`` of the displacement patch, in
            steps of ``dilation_patch``.
        stride: stride of the output positions on ``input1``.
        padding: zero padding of both inputs (on each side).
        dilation: spacing of the window taps.
        dilation_patch: spacing of the displacements, in pixels.
        backend: ``'auto'`` (mmcv's CUDA op for CUDA tensors when available,
            PyTorch otherwise), ``'torch'`` or ``'mmcv'``.

    Returns:
        ``(N, 2 md + 1, 2 md + 1, H_out, W_out)``, dtype of the inputs.
    """
    if input1.dim() != 4 or input1.shape != input2.shape:
        raise ValueError('correlation expects two (N, C, H, W) tensors of the '
                         f'same shape, got {tuple(input1.shape)} and '
                         f'{tuple(input2.shape)}')
    if backend not in ('auto', 'torch', 'mmcv'):
        raise ValueError("correlation: backend must be 'auto', 'torch' or "
                         f"'mmcv', got {backend!r}")
    if max_displacement < 0:
        raise ValueError('correlation: max_displacement must be >= 0, got '
                         f'{max_displacement}')
    kernel, stride_, padding_ = (_pair(kernel_size), _pair(stride),
                                 _pair(padding))
    dilation_, dilation_patch_ = _pair(dilation), _pair(dilation_patch)
    for name, value in (('kernel_size', kernel), ('stride', stride_),
                        ('dilation', dilation_),
                        ('dilation_patch', dilation_patch_)):
        if min(value) < 1:
            raise ValueError(f'correlation: {name} must be >= 1, got {value}')
    if min(padding_) < 0:
        raise ValueError(f'correlation: padding must be >= 0, got {padding_}')

    mmcv_fn = None
    if backend == 'mmcv' or (backend == 'auto' and input1.is_cuda):
        mmcv_fn = _mmcv_correlation_function()
        if mmcv_fn is None and backend == 'mmcv':
            raise RuntimeError("correlation: backend='mmcv' needs mmcv with "
                               'compiled ops (mmcv.ops.correlation)')
    if mmcv_fn is not None:
        return mmcv_fn.apply(input1, input2, kernel, max_displacement,
                             stride_, padding_, dilation_, dilation_patch_)
    return _correlation_torch(input1, input2, kernel, max_displacement,
                              stride_, padding_, dilation_, dilation_patch_)


class Correlation(nn.Module):
    """Module form of :func:`correlation` (same arguments, no parameters).

    Drop-in for ``mmcv.ops.Correlation`` that also runs on the CPU.
    """

    def __init__(self,
                 kernel_size: IntOrPair = 1,
                 max_displacement: int = 1,
                 stride: IntOrPair = 1,
                 padding: IntOrPair = 0,
                 dilation: IntOrPair = 1,
                 dilation_patch: IntOrPair = 1,
                 backend: str = 'auto') -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.max_displacement = max_displacement
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.dilation_patch = dilation_patch
        self.backend = backend

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        """``(N, C, H, W)`` x2 -> ``(N, 2 md + 1, 2 md + 1, H_out, W_out)``."""
        return correlation(input1, input2, self.kernel_size,
                           self.max_displacement, self.stride, self.padding,
                           self.dilation, self.dilation_patch, self.backend)

    def extra_repr(self) -> str:
        return (f'kernel_size={self.kernel_size}, '
                f'max_displacement={self.max_displacement}, '
                f'stride={self.stride}, padding={self.padding}, '
                f'dilation={self.dilation}, '
                f'dilation_patch={self.dilation_patch}, '
                f'backend={self.backend!r}')
