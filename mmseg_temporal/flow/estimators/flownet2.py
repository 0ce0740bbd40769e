"""FlowNet2 flow estimator, loading MMFlow's FlowNet2 checkpoints unchanged.

The network (:mod:`.flownet_modules`) has the module names and parameter
shapes of MMFlow 1.x's ``FlowNet2`` (config
``flownet2_8xb1_sfine_flyingthings3d-subset-384x768.py``): 220 tensors,
162,518,834 parameters, keys ``flownetCSS.*``, ``flownetSD.*`` and
``flownet_fusion.*``. MMFlow 0.x and 1.x use the same keys, and both serve
the same checkpoint files, e.g. ``flownet2_8x1_sfine_flyingthings3d_subset_
384x768.pth`` under ``https://download.openmmlab.com/mmflow/flownet2/``
(download it yourself; nothing here downloads).

Input handling is MMFlow's test pipeline: RGB -> BGR, divided by 255, the
two images concatenated on channels; sizes that are not multiples of 64 are
resized (``InputResize(exponent=6)``, bilinear) and the flow resized back
and rescaled, or, with ``input_mode='pad'``, edge-padded around the centre
(``InputPad``) and cropped.
"""
import math
from typing import Dict, Mapping, Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.checkpoint import (
    CheckpointError,
    load_state_dict_strict,
    model_state_dict,
    read_checkpoint,
)
from .base import BaseFlowEstimator
from .flownet_modules import FlowNetCSS, FlowNetFusion, FlowNetSD, link_estimators

__all__ = ['FlowNet2', 'load_flownet2_state_dict', 'read_state_dict']

# One key of the fusion net, the last stage; used to find a key prefix.
_ANCHOR_KEY = 'flownet_fusion.decoder.decoders.level1.pred_out.1.bias'

_ROLE = 'FlowNet2 checkpoint'


@MODELS.register_module()
class FlowNet2(BaseFlowEstimator):
    """FlowNet2 (Ilg et al., CVPR 2017), frozen, MMFlow-compatible weights.

    Args:
        checkpoint: local path of an MMFlow FlowNet2 checkpoint (a raw state
            dict or an MMCV/MMEngine checkpoint dict with ``state_dict``),
            loaded strictly with ``torch.load(weights_only=True)``. ``None``
            keeps random weights (tests, benchmarks).
        input_mode: ``'resize'`` (MMFlow's default test pipeline) or
            ``'pad'`` to bring H and W to multiples of 64.
        flow_div: the divisor of FlowNetCSS/SD predictions (MMFlow: 20).
    """

    size_divisor = 64

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 input_mode: str = 'resize',
                 flow_div: float = 20.) -> None:
        super().__init__()
        if input_mode not in ('resize', 'pad'):
            raise ValueError("FlowNet2: input_mode must be 'resize' or 'pad', "
                             f'got {input_mode!r}')
        self.checkpoint = checkpoint
        self.input_mode = input_mode
        self.flow_div = flow_div
        self.flownetCSS = FlowNetCSS(flow_div)
        self.flownetSD = FlowNetSD()
        self.flownet_fusion = FlowNetFusion()
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)
        self.freeze()

    def init_weights(self) -> None:
        """Reload the checkpoint (a parent's init must not overwrite it)."""
        if self.checkpoint is not None:
            self.load_checkpoint(self.checkpoint)

    def load_checkpoint(self, path: str) -> None:
        """Load an MMFlow FlowNet2 checkpoint file strictly (see class doc)."""
        load_flownet2_state_dict(self, read_state_dict(path), source=path)

    def predict(self, inputs: Tensor) -> Tensor:
        """The network on MMFlow-normalised inputs.

        Args:
            inputs: ``(B, 6, H, W)``, ``[img1, img2]`` BGR in ``[0, 1]``,
                ``H`` and ``W`` multiples of 64.

        Returns:
            ``(B, 2, H, W)`` flow from img1 to img2 in pixels.
        """
        img1, img2 = inputs[:, :3], inputs[:, 3:]
        flow_css = self.flownetCSS(inputs)['level2']
        flow_sd = self.flownetSD(inputs)['level2']
        css = link_estimators(img1, img2, flow_css, self.flow_div, 'nearest')
        sd = link_estimators(img1, img2, flow_sd, self.flow_div, 'nearest')
        fusion_in = torch.cat(
            (img1, sd['scaled_flow'], css['scaled_flow'],
             sd['norm_scaled_flow'], css['norm_scaled_flow'],
             sd['brightness_err'], css['brightness_err']),
            dim=1)
        return self.flownet_fusion(fusion_in)['level1']

    def estimate(self, img1: Tensor, img2: Tensor) -> Tensor:
        """RGB ``[0, 255]`` pair -> flow at the input resolution, pixels."""
        h, w = img1.shape[-2:]
        div = self.size_divisor
        new_h, new_w = math.ceil(h / div) * div, math.ceil(w / div) * div
        # RGB -> BGR, [0, 255] -> [0, 1] (MMFlow's LoadImage + preprocessor).
        x = torch.cat((img1.flip(1), img2.flip(1)), dim=1) / 255.
        if (new_h, new_w) == (h, w):
            return self.predict(x)
        if self.input_mode == 'pad':
            top, left = (new_h - h) // 2, (new_w - w) // 2
            x = F.pad(x, (left, new_w - w - left, top, new_h - h - top),
                      mode='replicate')
            return self.predict(x)[..., top:top + h, left:left + w]
        x = F.interpolate(
            x, size=(new_h, new_w), mode='bilinear', align_corners=False)
        flow = F.interpolate(
            self.predict(x), size=(h, w), mode='bilinear',
            align_corners=False)
        scale = flow.new_tensor([new_w / w, new_h / h]).view(1, 2, 1, 1)
        return flow / scale


def read_state_dict(path: str) -> Dict[str, Tensor]:
    """Tensors of a FlowNet2 checkpoint file, read weights-only on the CPU
    through the one checkpoint reader
    (:func:`~mmseg_temporal.utils.checkpoint.read_checkpoint`).

    Accepts a raw state dict or a dict holding it under ``state_dict``
    (MMCV/MMEngine checkpoints; ``meta``, ``optimizer`` etc. are ignored).
    """
    return model_state_dict(read_checkpoint(path, role=_ROLE), path, _ROLE)


def _strip_prefix(state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Keys relative to the FlowNet2 module.

    Handles wrappers (``module.`` of DDP) and FlowNet2 held inside a larger
    model (e.g. ``flow_estimator.`` of a segmentor): the prefix is what
    precedes the fusion net's last key; only keys under it are kept.
    """
    if _ANCHOR_KEY in state_dict or not any(
            k.endswith('.' + _ANCHOR_KEY) for k in state_dict):
        return dict(state_dict)
    prefixes = [k[:-len(_ANCHOR_KEY)] for k in state_dict
                if k.endswith('.' + _ANCHOR_KEY)]
    if len(prefixes) > 1:
        raise CheckpointError(
            f'state dict holds several FlowNet2 models (prefixes {prefixes})')
    prefix = prefixes[0]
    return {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }


def load_flownet2_state_dict(model: FlowNet2,
                             state_dict: Mapping[str, Tensor],
                             source: str = 'state dict') -> None:
    """Strictly load ``state_dict`` into ``model`` after checking it.

    Raises:
        CheckpointError: naming missing and unexpected keys and shape
            mismatches (nothing is loaded then).
    """
    load_state_dict_strict(model, _strip_prefix(state_dict), source,
                           hint='expected the MMFlow FlowNet2 layout')
