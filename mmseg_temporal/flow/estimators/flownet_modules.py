"""Sub-networks of FlowNet2: FlowNetC, FlowNetS, FlowNetSD, the fusion net
(their blocks: :mod:`.flownet_blocks`).

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
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import flow_warp
from .flownet_blocks import (
    CorrEncoder,
    FlowNetDecoder,
    FlowNetEncoder,
    FlowNetSDEncoder,
    TensorDict,
    flownet_decoder,
)

__all__ = [
    'FlowNetC', 'FlowNetS', 'FlowNetSD', 'FlowNetFusion', 'FlowNetCSS',
    'link_estimators'
]


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
        self.decoder = decoder if decoder is not None else flownet_decoder(
            upsample_bias=False)

    def forward(self, x: Tensor) -> TensorDict:
        """``(B, C, H, W)`` -> multi-level flow, ``level2`` the finest."""
        return self.decoder(self.encoder(x))


class FlowNetSD(FlowNetS):
    """FlowNetSD (small displacements): FlowNetS with the SD encoder."""

    def __init__(self) -> None:
        super().__init__(
            FlowNetSDEncoder(),
            flownet_decoder(upsample_bias=True, inter=True))


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
        self.decoder = flownet_decoder(upsample_bias=True)
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
