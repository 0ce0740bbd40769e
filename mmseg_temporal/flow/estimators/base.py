"""The one interface of the project's optical-flow estimators.

Every estimator (FlowNet2, DIS, ...) is a frozen ``nn.Module`` with

    flow = estimator(img1, img2)

* ``img1``, ``img2``: ``(B, 3, H, W)`` RGB images with raw pixel values in
  ``[0, 255]`` (any float or integer dtype), on any device;
* ``flow``: ``(B, 2, H, W)`` float32 on the device of the inputs, the flow
  ``M_{1->2}`` from ``img1`` to ``img2``: channel 0 is the horizontal (x)
  and channel 1 the vertical (y) displacement, in pixels of the input
  resolution. Pixel ``p`` of ``img1`` is found at ``p + flow[p]`` in
  ``img2``, so ``flow_warp(img2, flow)`` brings ``img2`` onto ``img1``.

Estimators are never trained: they stay in eval mode, their parameters do
not require gradients, and the forward pass runs under ``torch.no_grad()``.
"""
from abc import ABCMeta, abstractmethod

import torch
from torch import Tensor, nn

# flow_of_images (arrays in, array out) lives with the flow sources.
from ..sources.estimator import flow_of_images  # noqa: F401

__all__ = ['BaseFlowEstimator', 'flow_of_images']


class BaseFlowEstimator(nn.Module, metaclass=ABCMeta):
    """Base class of frozen optical-flow estimators.

    Subclasses implement :meth:`estimate` on already validated float32
    inputs of any spatial size (padding or resizing internally as their
    network needs) and call :meth:`freeze` at the end of ``__init__``.
    """

    def freeze(self) -> 'BaseFlowEstimator':
        """Put the module in eval mode and stop gradients to its parameters."""
        self.requires_grad_(False)
        # nn.Module.train: our override below always keeps eval.
        return self.train(False)

    def train(self, mode: bool = True) -> 'BaseFlowEstimator':
        """No-op for the estimator's own state: it always stays in eval mode.

        A parent module calling ``train()`` (e.g. MMEngine's runner on the
        segmentor holding this estimator) must not switch dropout or
        batch-norm statistics of the frozen flow network.
        """
        return super().train(False)

    def init_weights(self) -> None:
        """Called by MMEngine's ``BaseModule.init_weights`` of a parent.

        The default keeps the current weights; estimators with a checkpoint
        reload it here, so that an ``init_cfg`` of a parent module that
        re-initialises every ``Conv2d`` cannot overwrite pretrained flow
        weights.
        """

    @staticmethod
    def _check_inputs(img1: Tensor, img2: Tensor) -> None:
        if img1.dim() != 4 or img1.shape[1] != 3:
            raise ValueError('flow estimators expect img1 of shape '
                             f'(B, 3, H, W), got {tuple(img1.shape)}')
        if img2.shape != img1.shape:
            raise ValueError('flow estimators expect img1 and img2 of the '
                             f'same shape, got {tuple(img1.shape)} and '
                             f'{tuple(img2.shape)}')
        if img1.device != img2.device:
            raise ValueError('img1 and img2 are on different devices: '
                             f'{img1.device} and {img2.device}')

    def forward(self, img1: Tensor, img2: Tensor) -> Tensor:
        """Flow from ``img1`` to ``img2``.

        Args:
            img1: ``(B, 3, H, W)`` RGB, pixel values in ``[0, 255]``.
            img2: ``(B, 3, H, W)`` RGB, pixel values in ``[0, 255]``.

        Returns:
            ``(B, 2, H, W)`` float32 flow in pixels (channel 0 horizontal),
            on the device of the inputs.
        """
        self._check_inputs(img1, img2)
        with torch.no_grad():
            flow = self.estimate(img1.float(), img2.float())
        expected = (img1.shape[0], 2) + tuple(img1.shape[2:])
        if tuple(flow.shape) != expected:
            raise RuntimeError(f'{type(self).__name__}.estimate returned a '
                               f'flow of shape {tuple(flow.shape)}, expected '
                               f'{expected}')
        return flow.float()

    @abstractmethod
    def estimate(self, img1: Tensor, img2: Tensor) -> Tensor:
        """Subclass hook, run under ``no_grad`` by :meth:`forward`.

        Args:
            img1: ``(B, 3, H, W)`` float32 RGB in ``[0, 255]``.
            img2: ``(B, 3, H, W)`` float32 RGB in ``[0, 255]``.

        Returns:
            ``(B, 2, H, W)`` flow in pixels of the input resolution.
        """
