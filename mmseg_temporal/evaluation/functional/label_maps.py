"""Checked conversion of the metrics' inputs (label maps, flows, masks)
from numpy or torch to CPU tensors; errors name the argument at fault."""
from typing import Optional, Union

import numpy as np
import torch

__all__ = ['ArrayLike', 'as_label_map', 'as_flow', 'as_mask', 'check_values']

ArrayLike = Union[np.ndarray, torch.Tensor]


def as_label_map(x: ArrayLike, name: str) -> torch.Tensor:
    """``(H, W)`` integer numpy/torch -> int64 CPU tensor."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor)
                        else x).detach().cpu()
    if t.dim() != 2:
        raise ValueError(f'{name} must be an (H, W) label map, got shape '
                         f'{tuple(t.shape)}')
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f'{name} must hold integer class ids, got dtype '
                         f'{t.dtype}')
    return t.to(torch.int64)


def as_flow(flow: ArrayLike, name: str) -> torch.Tensor:
    """``(2, H, W)`` numpy/torch -> float CPU tensor (float64 kept)."""
    t = torch.as_tensor(np.asarray(flow) if not isinstance(flow, torch.Tensor)
                        else flow).detach().cpu()
    if t.dim() != 3 or t.shape[0] != 2:
        raise ValueError(f'{name} must be a (2, H, W) flow (channel 0 '
                         f'horizontal), got shape {tuple(t.shape)}')
    if not t.is_floating_point():
        t = t.to(torch.float32)
    return t


def as_mask(valid: ArrayLike, name: str) -> torch.Tensor:
    """``(H, W)`` numpy/torch -> bool CPU tensor."""
    t = torch.as_tensor(np.asarray(valid) if not isinstance(
        valid, torch.Tensor) else valid).detach().cpu()
    if t.dim() != 2:
        raise ValueError(f'{name} must be an (H, W) bool mask, got shape '
                         f'{tuple(t.shape)}')
    return t.to(torch.bool)


def check_values(label: torch.Tensor, num_classes: int,
                 ignore_index: Optional[int], name: str) -> None:
    """Raises when ``label`` holds ids outside ``[0, K)`` that are not
    ``ignore_index`` (the first five named)."""
    bad = (label < 0) | (label >= num_classes)
    if ignore_index is not None:
        bad &= label != ignore_index
    if bool(bad.any()):
        vals = torch.unique(label[bad])[:5].tolist()
        raise ValueError(f'{name} holds class ids outside [0, {num_classes}) '
                         f'that are not ignore_index={ignore_index}: {vals}')
