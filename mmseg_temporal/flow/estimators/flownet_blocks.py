"""Building blocks of FlowNet2's sub-networks: convolutions, the encoders
(plain, SD and with correlation) and the level-wise decoder.

Module and parameter names follow MMFlow's FlowNet2 (see
:mod:`.flownet_modules`, which assembles them), so MMFlow's checkpoints load
unchanged.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .correlation import Correlation

__all__ = ['TensorDict', 'ConvAct', 'ConvBlock', 'FlowNetEncoder', 'FlowNetSDEncoder',
           'CorrEncoder', 'DeconvModule', 'DecoderBlock', 'FlowNetDecoder',
           'flownet_decoder']

TensorDict = Dict[str, Tensor]
IntOrSeq = Union[int, Sequence[int]]

_SLOPE = 0.1  # negative slope of every LeakyReLU of FlowNet


class ConvAct(nn.Module):
    """Conv2d (with bias) + LeakyReLU(0.1); names as mmcv's ``ConvModule``."""

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              padding)
        self.activate = nn.LeakyReLU(_SLOPE, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.activate(self.conv(x))


class ConvBlock(nn.Module):
    """``num_convs`` ConvAct layers; only the first one strides.

    ``out_channels`` and ``kernel_size`` are one value or one per layer.
    """

    def __init__(self, in_channels: int, out_channels: IntOrSeq,
                 num_convs: int, stride: int, kernel_size: IntOrSeq) -> None:
        super().__init__()
        layers = []
        for i in range(num_convs):
            k = _pick(kernel_size, i)
            out_ch = _pick(out_channels, i)
            layers.append(
                ConvAct(in_channels, out_ch, k, stride if i == 0 else 1,
                        k // 2))
            in_channels = out_ch
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def _pick(value: IntOrSeq, i: int) -> int:
    return value[i] if isinstance(value, (tuple, list)) else value


def _last(value: IntOrSeq) -> int:
    return value[-1] if isinstance(value, (tuple, list)) else value


class FlowNetEncoder(nn.Module):
    """Plain strided conv pyramid; output ``level{i+1}`` of block ``i``.

    Args:
        in_channels: channels of the input.
        out_channels: per level, one int or one per conv.
        kernel_size: per level, one int or one per conv (an int applies to
            every level).
        strides: stride of the first conv of each level.
        num_convs: convs per level.
    """

    def __init__(self, in_channels: int, out_channels: Sequence[IntOrSeq],
                 kernel_size: Union[int, Sequence[IntOrSeq]],
                 strides: Sequence[int], num_convs: Sequence[int]) -> None:
        super().__init__()
        if not (len(out_channels) == len(strides) == len(num_convs)):
            raise ValueError('FlowNetEncoder: out_channels, strides and '
                             'num_convs must have one entry per level, got '
                             f'{len(out_channels)}, {len(strides)}, '
                             f'{len(num_convs)}')
        self.in_channels = in_channels
        blocks = []
        for i, out_ch in enumerate(out_channels):
            k = kernel_size if isinstance(kernel_size, int) else kernel_size[i]
            blocks.append(
                ConvBlock(in_channels, out_ch, num_convs[i], strides[i], k))
            in_channels = _last(out_ch)
        self.layers = nn.Sequential(*blocks)

    def _pyramid(self, x: Tensor, first_level: int) -> TensorDict:
        feats = {}
        for i, block in enumerate(self.layers):
            x = block(x)
            feats[f'level{i + first_level}'] = x
        return feats

    def forward(self, x: Tensor) -> TensorDict:
        """``(B, C, H, W)`` -> ``{'level1': stride-2 map, ...}``."""
        return self._pyramid(x, 1)


class FlowNetSDEncoder(FlowNetEncoder):
    """FlowNetSD encoder: a stride-1 ``plugin_layer`` then the pyramid."""

    def __init__(self,
                 in_channels: int = 6,
                 plugin_channels: int = 64,
                 out_channels: Sequence[IntOrSeq] = ((64, 128), 128, 256,
                                                     512, 512, 1024),
                 kernel_size: int = 3,
                 strides: Sequence[int] = (2, 2, 2, 2, 2, 2),
                 num_convs: Sequence[int] = (2, 2, 2, 2, 2, 2)) -> None:
        super().__init__(plugin_channels, out_channels, kernel_size, strides,
                         num_convs)
        self.plugin_layer = ConvAct(in_channels, plugin_channels, kernel_size,
                                    1, kernel_size // 2)

    def forward(self, x: Tensor) -> TensorDict:
        return self._pyramid(self.plugin_layer(x), 1)


class CorrEncoder(FlowNetEncoder):
    """FlowNetC's cost-volume branch: correlation + redirection, then convs.

    ``[conv_redir(f1), LeakyReLU(corr(f1, f2))]`` (32 + 441 channels) feeds
    a pyramid whose blocks give ``level3`` ... ``level6``.
    """

    def __init__(self,
                 in_channels: int = 473,
                 out_channels: Sequence[int] = (256, 512, 512, 1024),
                 kernel_size: int = 3,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 num_convs: Sequence[int] = (1, 2, 2, 2),
                 redir_in_channels: int = 256,
                 redir_channels: int = 32,
                 max_displacement: int = 10,
                 dilation_patch: int = 2) -> None:
        super().__init__(in_channels, out_channels, kernel_size, strides,
                         num_convs)
        self.corr = Correlation(
            kernel_size=1,
            max_displacement=max_displacement,
            stride=1,
            padding=0,
            dilation_patch=dilation_patch)
        self.corr_act = nn.LeakyReLU(_SLOPE, inplace=True)
        self.conv_redir = ConvAct(redir_in_channels, redir_channels, 1)

    def forward(self, f1: Tensor, f2: Tensor) -> TensorDict:
        """``(B, C, h, w)`` x2 (level-3 features) -> ``level3``..``level6``."""
        n, _, h, w = f1.shape
        # Correlation in float32, as MMFlow (autocast off).
        with torch.autocast(device_type=f1.device.type, enabled=False):
            corr = self.corr(f1.float(), f2.float())
        corr = self.corr_act(corr.reshape(n, -1, h, w))
        x = torch.cat((self.conv_redir(f1), corr.to(f1.dtype)), dim=1)
        return self._pyramid(x, 3)


class DeconvModule(nn.Module):
    """ConvTranspose2d(4, stride 2, padding 1): doubles the resolution."""

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 bias: bool,
                 activate: bool = False) -> None:
        super().__init__()
        layers = [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1,
                                     bias=bias)]
        if activate:
            layers.append(nn.LeakyReLU(_SLOPE, inplace=True))
        self.deconvs = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.deconvs(x)


class DecoderBlock(nn.Module):
    """One level of the FlowNet decoder.

    ``pred_out`` predicts the flow (one 3x3 conv, or two without activation
    in between when ``inter_channels`` is given); levels that feed a finer
    one also have ``deconv_out`` (features, with LeakyReLU) and
    ``upsample_pred`` (flow, linear), both x2.
    """

    def __init__(self, in_channels: int, out_channels: Optional[int],
                 inter_channels: Optional[int], upsample_bias: bool) -> None:
        super().__init__()
        if inter_channels is None:
            self.pred_out = nn.Conv2d(in_channels, 2, 3, 1, 1)
        else:
            self.pred_out = nn.Sequential(
                nn.Conv2d(in_channels, inter_channels, 3, 1, 1),
                nn.Conv2d(inter_channels, 2, 3, 1, 1))
        self.up_sample = out_channels is not None
        if self.up_sample:
            self.deconv_out = DeconvModule(
                in_channels, out_channels, bias=True, activate=True)
            self.upsample_pred = DeconvModule(2, 2, bias=upsample_bias)

    def forward(
            self, x: Tensor
    ) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        """Returns ``(flow, upsampled flow, upsampled features)``."""
        flow = self.pred_out(x)
        if not self.up_sample:
            return flow, None, None
        return flow, self.upsample_pred(flow), self.deconv_out(x)


class FlowNetDecoder(nn.Module):
    """Coarse-to-fine flow decoder of FlowNetS/C/SD and the fusion net.

    The coarsest level predicts from its features alone; each finer level
    from ``[features, upsampled features, upsampled flow]``.

    Args:
        in_channels: level name -> input channels of that level's block.
        out_channels: level name -> channels of its upsampled features
            (levels absent here are the finest and do not upsample).
        inter_channels: level name -> hidden channels of ``pred_out``.
        upsample_bias: whether the flow upsampling deconvs have a bias.
    """

    def __init__(self,
                 in_channels: Dict[str, int],
                 out_channels: Dict[str, int],
                 inter_channels: Optional[Dict[str, int]] = None,
                 upsample_bias: bool = True) -> None:
        super().__init__()
        inter_channels = inter_channels or {}
        # 'level2' < 'level6' as strings too: finest first.
        self.flow_levels = sorted(in_channels)
        self.decoders = nn.ModuleDict([
            (level,
             DecoderBlock(in_channels[level], out_channels.get(level),
                          inter_channels.get(level), upsample_bias))
            for level in self.flow_levels
        ])

    def forward(self, feats: TensorDict) -> TensorDict:
        """``{'levelk': features}`` -> ``{'levelk': flow / flow_div}``."""
        flows = {}
        upflow = upfeat = None
        for level in reversed(self.flow_levels):
            x = feats[level]
            if upflow is not None:
                x = torch.cat((x, upfeat, upflow), dim=1)
            flows[level], upflow, upfeat = self.decoders[level](x)
        return flows


def flownet_decoder(upsample_bias: bool,
                     inter: bool = False) -> FlowNetDecoder:
    """The level-6-to-2 decoder shared by FlowNetC, FlowNetS and FlowNetSD."""
    return FlowNetDecoder(
        in_channels=dict(
            level6=1024, level5=1026, level4=770, level3=386, level2=194),
        out_channels=dict(level6=512, level5=256, level4=128, level3=64),
        inter_channels=dict(level5=512, level4=256, level3=128, level2=64)
        if inter else None,
        upsample_bias=upsample_bias)
