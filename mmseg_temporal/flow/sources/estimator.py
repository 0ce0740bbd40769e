"""EstimatorFlow: a flow estimator (``nn.Module``, images -> flow) as a
file-keyed flow source, and the one array-to-estimator helper."""
from typing import Callable, Optional, Union

import numpy as np
import torch
from mmseg.registry import MODELS, TASK_UTILS
from torch import Tensor, nn

from ...utils.image import read_rgb
from .base import FlowResult

__all__ = ['EstimatorFlow', 'flow_of_images']


def flow_of_images(estimator: Callable[[Tensor, Tensor], Tensor],
                   img_a: np.ndarray, img_b: np.ndarray,
                   device: Optional[Union[str, torch.device]] = None
                   ) -> np.ndarray:
    """Runs a flow estimator on two images held as arrays.

    Args:
        estimator: any estimator of the project's interface
            (``flow = estimator(img1, img2)``, ``(B, 3, H, W)`` RGB in
            [0, 255] -> ``(B, 2, H, W)``).
        img_a, img_b: ``(H, W, 3)`` RGB arrays, values in ``[0, 255]``.
        device: where to run; default: the device of the estimator's
            parameters (CPU for parameter-free estimators such as DIS).

    Returns:
        ``(2, H, W)`` float32 flow from ``img_a`` to ``img_b`` in pixels.
    """
    if device is None:
        param = (next(estimator.parameters(), None)
                 if isinstance(estimator, nn.Module) else None)
        device = param.device if param is not None else torch.device('cpu')

    def as_batch(img: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(img)).permute(
            2, 0, 1)[None].float().to(device)

    with torch.no_grad():
        flow = estimator(as_batch(img_a), as_batch(img_b))
    return flow[0].float().cpu().numpy()


@TASK_UTILS.register_module()
class EstimatorFlow:
    """Runs a flow estimator on the two frames of a pair.

    ``flow, None = source(path_a, path_b, img_a, img_b)``: the estimator's
    flow of the ``(H, W, 3)`` uint8 RGB images (read from the files when
    not given). An estimator knows nothing about visibility: wrap the
    source in ``ForwardBackwardChecked`` for a mask.

    Args:
        estimator: a ``MODELS`` estimator config (``dict(type='DISFlow')``,
            ``dict(type='FlowNet2', checkpoint=...)``), built at the first
            call (so that a dataloader worker builds its own), or a built
            estimator module.
        device: where the estimator runs (default: the CPU, or where a
            built module's parameters are).
    """

    def __init__(self, estimator: Union[dict, nn.Module],
                 device: Optional[str] = None) -> None:
        if not isinstance(estimator, (dict, nn.Module)):
            raise TypeError('EstimatorFlow: estimator must be a MODELS config '
                            f'dict or a module, got {type(estimator).__name__}')
        self.estimator_cfg = estimator if isinstance(estimator, dict) else None
        self.device = device
        self._estimator = (estimator if isinstance(estimator, nn.Module)
                           else None)

    @property
    def estimator(self) -> nn.Module:
        """The estimator module (built from the config at first use)."""
        if self._estimator is None:
            self._estimator = MODELS.build(dict(self.estimator_cfg))
            if self.device is not None:
                self._estimator = self._estimator.to(self.device)
        return self._estimator

    def compute(self, img_a: np.ndarray, img_b: np.ndarray) -> np.ndarray:
        """``(2, H, W)`` float32 flow of two ``(H, W, 3)`` RGB images."""
        return flow_of_images(self.estimator, img_a, img_b,
                              device=self.device)

    def __call__(self, path_a: str, path_b: str,
                 img_a: Optional[np.ndarray] = None,
                 img_b: Optional[np.ndarray] = None) -> FlowResult:
        img_a = read_rgb(path_a) if img_a is None else img_a
        img_b = read_rgb(path_b) if img_b is None else img_b
        return self.compute(img_a, img_b), None

    def __repr__(self) -> str:
        what = (self.estimator_cfg if self.estimator_cfg is not None else
                type(self._estimator).__name__)
        return f'{type(self).__name__}(estimator={what!r})'
