"""OpenCV's DIS optical flow as a frozen flow estimator (the CPU default)."""
import cv2
import numpy as np
import torch
from mmseg.registry import MODELS
from torch import Tensor

from .base import BaseFlowEstimator

__all__ = ['DISFlow']

_PRESETS = {
    'ultrafast': cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    'fast': cv2.DISOPTICAL_FLOW_PRESET_FAST,
    'medium': cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@MODELS.register_module()
class DISFlow(BaseFlowEstimator):
    """Dense Inverse Search flow (Kroeger et al., ECCV 2016) via OpenCV.

    Runs on the CPU on grayscale uint8 versions of the frames, one pair of
    the batch at a time; the result is moved to the device of the inputs.
    No parameters.

    Args:
        preset: ``'ultrafast'``, ``'fast'`` or ``'medium'`` (OpenCV's
            ``DISOPTICAL_FLOW_PRESET_*``; slower presets are more accurate).
    """

    def __init__(self, preset: str = 'medium') -> None:
        super().__init__()
        if preset not in _PRESETS:
            raise ValueError(f'DISFlow: preset must be one of '
                             f'{sorted(_PRESETS)}, got {preset!r}')
        self.preset = preset
        self.freeze()

    @staticmethod
    def _to_gray(img: Tensor) -> np.ndarray:
        """``(3, H, W)`` RGB in [0, 255] -> ``(H, W)`` uint8 gray."""
        # In NumPy: small torch ops here stall on a loaded 2-core machine
        # (thread-pool wake-ups), ~35 ms against ~1 ms (docs/benchmarks.md).
        rgb = np.asarray(img.detach().cpu().numpy(), np.float32).transpose(1, 2, 0)
        rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
        return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)

    def estimate(self, img1: Tensor, img2: Tensor) -> Tensor:
        """``(B, 3, H, W)`` RGB pair -> ``(B, 2, H, W)`` float32 flow."""
        # A fresh OpenCV object per call: cheap, and keeps the module
        # picklable/deep-copyable and safe across dataloader workers.
        dis = cv2.DISOpticalFlow_create(_PRESETS[self.preset])
        flows = [
            dis.calc(self._to_gray(a), self._to_gray(b), None)
            for a, b in zip(img1, img2)
        ]
        flow = torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2)
        return flow.to(device=img1.device, dtype=torch.float32)

    def extra_repr(self) -> str:
        return f'preset={self.preset!r}'
