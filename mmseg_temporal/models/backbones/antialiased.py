"""Anti-aliased downsampling for MMSeg backbones (Zhang, "Making
Convolutional Networks Shift-Invariant Again", ICML 2019).

A strided convolution or max-pool samples its output every second pixel
without low-passing it first, so a feature map shifts by a *fraction* of a
cell when the image moves by one pixel and its values change: the
student's predictions flicker under small camera motion (DESIGN.md
section 8: shifts by whole logit cells are nearly harmless, sub-cell shifts
make the flicker). Here every stride-2 step is evaluated densely (stride 1)
and then blurred with a fixed binomial filter and subsampled:

- ``nn.Conv2d`` with stride 2 -> :class:`BlurSubsampledConv2d` (the same
  weights, stride 1, then blur + subsample; with ``blur_first=True`` the
  input is blurred and the convolution keeps its stride: the same linear
  map away from the border (below), a quarter of a dense convolution's
  work);
- ``nn.MaxPool2d`` with stride 2 -> :class:`BlurSubsampledMaxPool2d`
  (max at stride 1, then blur + subsample: Zhang's MaxBlurPool).

The replacements keep their parameters under the same names and store the
blur filter as a non-persistent buffer, so a plain backbone's checkpoint
loads strictly into the anti-aliased one and back, and the output sizes are
the plain ones. ``AntiAliased<Backbone>`` registers one variant per MMSeg
backbone in :data:`ANTIALIASED_BACKBONES`; in a config::

    backbone=dict(type='AntiAliasedResNetV1c', blur_size=3, blur_first=False, ...)

Blur and convolution are both linear and shift-invariant, so blurring the
input and convolving at stride ``s`` computes what the dense convolution
followed by blur + subsample computes, except in the border rows and
columns whose window reaches the padding (the two forms pad different
tensors): one at each edge for the 3x3, padding-1 convolutions and 3-tap
blur of ResNetV1c, ResNetV1d and MobileNetV2; up to
``ceil((dilation * (k // 2) + blur_size // 2) / s)`` for a wider kernel
(ResNet's 7x7 stem: 2), a dilation or a larger blur; none for a 1x1
convolution. ``blur_first=False`` is the form the studies of
docs/results.md section 6 trained and scored.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['binomial_kernel', 'blur_subsample', 'BlurSubsampledConv2d',
           'BlurSubsampledMaxPool2d', 'antialias_downsampling',
           'ANTIALIASED_BACKBONES']

ANTIALIASED_BACKBONES = ('ResNet', 'ResNetV1c', 'ResNetV1d', 'MobileNetV2')


def binomial_kernel(size: int) -> Tensor:
    """The normalised 2-D binomial filter of ``size`` taps (3: [1, 2, 1]
    outer [1, 2, 1] / 16), shape ``(1, 1, size, size)``."""
    if size < 2:
        raise ValueError(f'blur_size must be >= 2, got {size}')
    row = torch.ones(1, dtype=torch.float64)
    for _ in range(size - 1):
        row = torch.cat([row, torch.zeros(1, dtype=torch.float64)]) + \
            torch.cat([torch.zeros(1, dtype=torch.float64), row])
    kernel = row[:, None] * row[None, :]
    return (kernel / kernel.sum()).float()[None, None]


def blur_subsample(x: Tensor, kernel: Tensor, stride: int) -> Tensor:
    """Blurs every channel of ``x`` with ``kernel`` (1, 1, k, k) under
    reflect padding and keeps every ``stride``-th pixel, starting at pixel
    0 like a strided convolution with padding ``k // 2``: for an odd ``k``
    the output is ``ceil(H / stride) x ceil(W / stride)``."""
    size = kernel.shape[-1]
    lo, hi = (size - 1) // 2, size // 2
    padded = F.pad(x, (lo, hi, lo, hi), mode='reflect')
    weight = kernel.to(x.dtype).expand(x.shape[1], 1, size, size)
    return F.conv2d(padded, weight, stride=stride, groups=x.shape[1])


def _pair(value) -> Tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class BlurSubsampledConv2d(nn.Conv2d):
    """A ``nn.Conv2d`` of stride ``s`` evaluated at stride 1, then blurred
    and subsampled by ``s``: same parameters, same output size. With
    ``blur_first`` the input is blurred (stride 1) and convolved at stride
    ``s`` instead: equal except in the border rows whose window reaches the
    padding (module docstring), cheaper for dense convolutions."""

    def __init__(self, *args, subsample: int = 2, blur_size: int = 3,
                 blur_first: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if blur_first and self.padding_mode != 'zeros':
            raise ValueError('blur_first needs zero padding, got padding_mode '
                             f'{self.padding_mode!r}')
        self.subsample = subsample
        self.blur_first = blur_first
        self.register_buffer('blur_kernel', binomial_kernel(blur_size),
                             persistent=False)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, blur_size: int,
                  blur_first: bool = False) -> 'BlurSubsampledConv2d':
        """The anti-aliased twin of ``conv``, sharing its parameters."""
        stride = _pair(conv.stride)
        if stride[0] != stride[1]:
            raise ValueError(f'anti-aliasing needs a square stride, got {stride}')
        # nn.Conv2d's constructor draws random weights that are dropped
        # below (the twin shares conv's): restore the random stream, so that
        # with the same seed whatever is built and initialised next (the
        # head, init_weights) starts exactly like in the plain model.
        with torch.random.fork_rng(devices=[]):
            new = cls(conv.in_channels, conv.out_channels, conv.kernel_size,
                      stride=1, padding=conv.padding, dilation=conv.dilation,
                      groups=conv.groups, bias=conv.bias is not None,
                      padding_mode=conv.padding_mode, subsample=stride[0],
                      blur_size=blur_size, blur_first=blur_first)
        new.weight = conv.weight
        new.bias = conv.bias
        return new.to(conv.weight.device)

    def forward(self, x: Tensor) -> Tensor:
        if self.blur_first:
            return F.conv2d(blur_subsample(x, self.blur_kernel, 1), self.weight,
                            self.bias, self.subsample, self.padding, self.dilation,
                            self.groups)
        return blur_subsample(super().forward(x), self.blur_kernel, self.subsample)

    def extra_repr(self) -> str:
        order = 'blur first' if self.blur_first else 'blurred'
        return super().extra_repr() + f', subsample={self.subsample} ({order})'


class BlurSubsampledMaxPool2d(nn.MaxPool2d):
    """A ``nn.MaxPool2d`` of stride ``s`` evaluated at stride 1, then
    blurred and subsampled by ``s`` (MaxBlurPool)."""

    def __init__(self, kernel_size, subsample: int = 2, blur_size: int = 3,
                 padding=0, dilation=1, ceil_mode=False):
        super().__init__(kernel_size, stride=1, padding=padding,
                         dilation=dilation, ceil_mode=ceil_mode)
        self.subsample = subsample
        self.register_buffer('blur_kernel', binomial_kernel(blur_size),
                             persistent=False)

    @classmethod
    def from_pool(cls, pool: nn.MaxPool2d, blur_size: int) -> 'BlurSubsampledMaxPool2d':
        stride = _pair(pool.stride)
        if stride[0] != stride[1] or pool.ceil_mode:
            raise ValueError(f'anti-aliasing needs a square stride and floor mode, got '
                             f'stride {stride}, ceil_mode {pool.ceil_mode}')
        return cls(pool.kernel_size, subsample=stride[0], blur_size=blur_size,
                   padding=pool.padding, dilation=pool.dilation)

    def forward(self, x: Tensor) -> Tensor:
        dense = _max3x3(x) if self._separable else super().forward(x)
        return blur_subsample(dense, self.blur_kernel, self.subsample)

    @property
    def _separable(self) -> bool:
        """The common 3x3 window, padding 1, no dilation: computed as a max
        over rows then columns (PyTorch's CPU max-pool with indices is ~4x
        slower at stride 1)."""
        return _pair(self.kernel_size) == (3, 3) and _pair(self.padding) == (1, 1) \
            and _pair(self.dilation) == (1, 1)


def _max3x3(x: Tensor) -> Tensor:
    """``max_pool2d(x, 3, stride=1, padding=1)`` as two 1-D maxima. The
    border is padded by replicating the edge (a window's maximum is then
    the same as over its inside pixels), not with -inf: an int8 export's
    calibration would see -inf and quantise the whole tensor to nothing."""
    padded = F.pad(x, (1, 1, 1, 1), mode='replicate')
    rows = torch.maximum(torch.maximum(padded[..., :-2, :], padded[..., 1:-1, :]),
                         padded[..., 2:, :])
    return torch.maximum(torch.maximum(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])


def antialias_downsampling(module: nn.Module, blur_size: int = 3,
                           blur_first: bool = False) -> int:
    """Replaces, in place, every strided ``nn.Conv2d`` and ``nn.MaxPool2d``
    inside ``module`` by its blurred twin (convolutions in the
    ``blur_first`` form if asked); returns how many it replaced. Strided
    average pools (ResNetV1d's ``avg_down``) already low-pass and are
    kept."""
    replaced = 0
    for name, child in module.named_children():
        if isinstance(child, BlurSubsampledConv2d) or \
                isinstance(child, BlurSubsampledMaxPool2d):
            continue
        if isinstance(child, nn.Conv2d) and max(_pair(child.stride)) > 1:
            setattr(module, name,
                    BlurSubsampledConv2d.from_conv(child, blur_size, blur_first))
            replaced += 1
        elif isinstance(child, nn.MaxPool2d) and max(_pair(child.stride)) > 1:
            setattr(module, name, BlurSubsampledMaxPool2d.from_pool(child, blur_size))
            replaced += 1
        else:
            replaced += antialias_downsampling(child, blur_size, blur_first)
    return replaced


def _antialiased_variant(base: type) -> type:
    """``AntiAliased<base>``: ``base`` with its downsampling anti-aliased
    after it is built (keys, shapes and init unchanged)."""

    def __init__(self, *args, blur_size: int = 3, blur_first: bool = False, **kwargs):
        base.__init__(self, *args, **kwargs)
        self.blur_size = blur_size
        if antialias_downsampling(self, blur_size, blur_first) == 0:
            raise ValueError(f'AntiAliased{base.__name__}: the backbone has no '
                             'strided convolution or max-pool to anti-alias')

    doc = (f'MMSeg\'s ``{base.__name__}`` with every stride-2 convolution and '
           'max-pool evaluated densely, blurred (binomial, ``blur_size`` taps) '
           'and subsampled (``blur_first``: strided convolutions blur their '
           'input instead, equal away from the border and cheaper); loads '
           '``{base.__name__}`` checkpoints unchanged.')
    return type(f'AntiAliased{base.__name__}', (base,),
                dict(__init__=__init__, __doc__=doc, __module__=__name__))


for _name in ANTIALIASED_BACKBONES:
    _variant = _antialiased_variant(MODELS.get(_name))
    globals()[_variant.__name__] = _variant
    MODELS.register_module(module=_variant)
    __all__.append(_variant.__name__)
