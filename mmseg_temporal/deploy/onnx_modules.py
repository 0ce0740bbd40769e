"""The tensor functions an ONNX export traces: ``EncoderDecoder`` inference
as one module (:class:`LogitsAtInputSize`) and a shape-generic adaptive
average pooling (:class:`ShapeGenericAdaptiveAvgPool2d`) that both of
PyTorch's exporters export at any input size (see
:mod:`mmseg_temporal.deploy.onnx_export`)."""
import copy

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['LogitsAtInputSize', 'ShapeGenericAdaptiveAvgPool2d',
           'shape_generic_copy']


class LogitsAtInputSize(nn.Module):
    """``EncoderDecoder`` inference as one tensor function: normalised image
    -> decode-head logits resized to the input size (-> class ids)."""

    def __init__(self, segmentor: nn.Module, output: str = 'logits') -> None:
        super().__init__()
        if output not in ('logits', 'labels'):
            raise ValueError(f"output must be 'logits' or 'labels', got "
                             f'{output!r}')
        self.segmentor, self.output = segmentor, output
        self.align_corners = bool(segmentor.decode_head.align_corners)

    def forward(self, img: torch.Tensor):
        feats = self.segmentor.extract_feat(img)
        logits = self.segmentor.decode_head.forward(feats)
        logits = F.interpolate(logits, size=img.shape[2:], mode='bilinear',
                               align_corners=self.align_corners)
        if self.output == 'labels':
            return logits.argmax(dim=1), logits
        return logits


def _bin_mean(x: torch.Tensor, dim: int, bins: int) -> torch.Tensor:
    """Means over the ``bins`` adaptive-pooling windows of axis ``dim``
    (window i: ``[floor(i n / bins), ceil((i + 1) n / bins))``, PyTorch's
    rule), from a cumulative sum: shape-generic, so it stays right at every
    input size of a dynamic export."""
    n = x.shape[dim]
    i = torch.arange(bins, device=x.device)
    start = torch.div(i * n, bins, rounding_mode='floor')
    end = torch.div((i + 1) * n + bins - 1, bins, rounding_mode='floor')
    pad = [0, 0] * (x.dim() - 1 - dim % x.dim()) + [1, 0]
    csum = F.pad(x.cumsum(dim), pad)
    total = csum.index_select(dim, end) - csum.index_select(dim, start)
    shape = [1] * x.dim()
    shape[dim] = bins
    return total / (end - start).to(x.dtype).view(shape)


class ShapeGenericAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` for dynamic-shape export: the exporters
    bake the pooling windows of the sample's size into the graph (measured:
    a PSPNet exported with dynamic shapes fails at any other size)."""

    def __init__(self, output_size) -> None:
        super().__init__()
        size = output_size if isinstance(output_size, (tuple, list)) else \
            (output_size, output_size)
        self.output_size = tuple(int(s) for s in size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _bin_mean(_bin_mean(x, -2, self.output_size[0]), -1,
                         self.output_size[1])


def shape_generic_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with every ``nn.AdaptiveAvgPool2d`` replaced
    by :class:`ShapeGenericAdaptiveAvgPool2d` (same values)."""
    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for key, child in list(parent.named_children()):
            if isinstance(child, nn.AdaptiveAvgPool2d):
                setattr(parent, key,
                        ShapeGenericAdaptiveAvgPool2d(child.output_size))
    return module
