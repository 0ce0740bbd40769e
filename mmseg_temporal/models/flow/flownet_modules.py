"""Sub-networks of FlowNet2: FlowNetC, FlowNetS, FlowNetSD, the fusion net.

Module names and parameter shapes follow MMFlow's FlowNet2 (``1.x`` branch
of open-mmlab/mmflow, config
``configs/flownet2/flownet2_8xb1_sfine_flyingthings3d-subset-384x768.py``),
so MMFlow's published checkpoints load into :class:`FlowNet2` unchanged.
The architecture numbers of that config are the defaults here.

Conventions of every sub-network (as in MMFlow):

* input: concatenated images on channels, e.g. ``(B, 6, H, W)`` for
  ``[img1, img2]`` (BGR, values in ``[0, 1]``), ``H`` and ``W`` multiples
  of 64;
* output: ``dict`` level name -> ``(B, 2, H / 2**k, W / 2**k)`` flow for
  ``'levelk'``, in pixels of that level's resolution divided by a
  ``flow_div`` (20 for FlowNetC/S/SD; 1 for the fusion net, whose
  ``level1`` is at full resolution).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .correlation import Correlation
from .warp import flow_warp

__all__ = [
    'FlowNetC', 'FlowNetS', 'FlowNetSD', 'FlowNetFusion', 'FlowNetCSS',
    'link_estimators'
]

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


def _flownet_decoder(upsample_bias: bool,
                     inter: bool = False) -> FlowNetDecoder:
    """The level-6-to-2 decoder shared by FlowNetC, FlowNetS and FlowNetSD."""
    return FlowNetDecoder(
        in_channels=dict(
            level6=1024, level5=1026, level4=770, level3=386, level2=194),
        out_channels=dict(level6=512, level5=256, level4=128, level3=64),
        inter_channels=dict(level5=512, level4=256, level3=128, level2=64)
        if inter else None,
        upsample_bias=upsample_bias)


class FlowNetS(nn.Module):
    """FlowNetS: encoder + decoder on the concatenated input.

    Default: FlowNet2's ``flownetS1``/``flownetS2`` (12 input channels:
    img1, img2, warped img2, flow, brightness error).
    """

    def __init__(self,
                 encoder: Optional[nn.Module] = None,
                 decoder: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.encoder = encoder if encoder is not None else FlowNetEncoder(
            in_channels=12,
            out_channels=(64, 128, 256, 512, 512, 1024),
            kernel_size=(7, 5, (5, 3), 3, 3, 3),
            strides=(2, 2, 2, 2, 2, 2),
            num_convs=(1, 1, 2, 2, 2, 2))
        self.decoder = decoder if decoder is not None else _flownet_decoder(
            upsample_bias=False)

    def forward(self, x: Tensor) -> TensorDict:
        """``(B, C, H, W)`` -> multi-level flow, ``level2`` the finest."""
        return self.decoder(self.encoder(x))


class FlowNetSD(FlowNetS):
    """FlowNetSD (small displacements): FlowNetS with the SD encoder."""

    def __init__(self) -> None:
        super().__init__(
            FlowNetSDEncoder(),
            _flownet_decoder(upsample_bias=True, inter=True))


class FlowNetFusion(FlowNetS):
    """FlowNet2's fusion net: full-resolution flow from the two branches.

    Input ``(B, 11, H, W)``: img1, SD flow, CSS flow, their norms, their
    brightness errors. Output ``level1`` is at full resolution, in pixels
    (``flow_div`` 1).
    """

    def __init__(self) -> None:
        super().__init__(
            FlowNetEncoder(
                in_channels=11,
                out_channels=(64, (64, 128), 128),
                kernel_size=3,
                strides=(1, 2, 2),
                num_convs=(1, 2, 2)),
            FlowNetDecoder(
                in_channels=dict(level3=128, level2=162, level1=82),
                out_channels=dict(level3=32, level2=16),
                inter_channels=dict(level2=32, level1=16),
                upsample_bias=True))


class FlowNetC(nn.Module):
    """FlowNetC: siamese encoder, correlation at level 3, decoder.

    Input ``(B, 6, H, W)`` = ``[img1, img2]``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = FlowNetEncoder(
            in_channels=3,
            out_channels=(64, 128, 256),
            kernel_size=(7, 5, 5),
            strides=(2, 2, 2),
            num_convs=(1, 1, 1))
        # Registration order as MMFlow (encoder, decoder, corr_encoder), so
        # state_dict() lists keys in the order of its checkpoints.
        self.decoder = _flownet_decoder(upsample_bias=True)
        self.corr_encoder = CorrEncoder()

    def forward(self, x: Tensor) -> TensorDict:
        c = self.encoder.in_channels
        feat1 = self.encoder(x[:, :c])
        feat2 = self.encoder(x[:, c:])
        corr_feats = self.corr_encoder(feat1['level3'], feat2['level3'])
        # Levels 3-6 come from the cost volume, level 2 from img1's encoder.
        return self.decoder({**feat1, **corr_feats})


def link_estimators(img1: Tensor, img2: Tensor, flow: Tensor, flow_div: float,
                    mode: str) -> Dict[str, Tensor]:
    """Inputs of the next network of the stack from a coarse flow (MMFlow's
    ``BasicLink``).

    Args:
        img1, img2: ``(B, 3, H, W)`` the network inputs.
        flow: ``(B, 2, H / 4, W / 4)`` a level-2 prediction (``/ flow_div``).
        flow_div: the divisor of that prediction.
        mode: upsampling mode, ``'bilinear'`` or ``'nearest'``.

    Returns:
        dict with ``upsample_flow`` (x4, still divided), ``scaled_flow``
        (x4, in pixels), ``norm_scaled_flow``, ``warped_img2`` (img2
        backward-warped with border padding) and ``brightness_err``
        (``||img1 - warped_img2||_2`` over channels), all ``(B, *, H, W)``.
    """
    upsample_flow = F.interpolate(flow, scale_factor=4, mode=mode)
    scaled_flow = upsample_flow * flow_div
    warped_img2, _ = flow_warp(img2, scaled_flow, padding_mode='border')
    return dict(
        upsample_flow=upsample_flow,
        scaled_flow=scaled_flow,
        norm_scaled_flow=torch.linalg.vector_norm(
            scaled_flow, dim=1, keepdim=True),
        warped_img2=warped_img2,
        brightness_err=torch.linalg.vector_norm(
            img1 - warped_img2, dim=1, keepdim=True))


class FlowNetCSS(nn.Module):
    """FlowNetC followed by two FlowNetS refinements (FlowNet2-CSS).

    Each FlowNetS sees ``[img1, img2, warped img2, flow, brightness err]``
    built from the previous level-2 flow, upsampled bilinearly.
    """

    def __init__(self, flow_div: float = 20.) -> None:
        super().__init__()
        self.flow_div = flow_div
        self.flownetC = FlowNetC()
        self.flownetS1 = FlowNetS()
        self.flownetS2 = FlowNetS()

    def _refine(self, net: nn.Module, img1: Tensor, img2: Tensor,
                flow: Tensor) -> TensorDict:
        link = link_estimators(img1, img2, flow, self.flow_div, 'bilinear')
        return net(
            torch.cat((img1, img2, link['warped_img2'],
                       link['upsample_flow'], link['brightness_err']),
                      dim=1))

    def forward(self, x: Tensor) -> TensorDict:
        """``(B, 6, H, W)`` -> FlowNetS2's multi-level flow."""
        img1, img2 = x[:, :3], x[:, 3:]
        flow = self.flownetC(x)['level2']
        flow = self._refine(self.flownetS1, img1, img2, flow)['level2']
        return self._refine(self.flownetS2, img1, img2, flow)
