"""Class palettes: ``(K, 3)`` uint8 RGB, like MMSeg's ``dataset_meta``."""
from typing import Mapping, Optional

import numpy as np

__all__ = ['default_palette', 'palette_from_meta']


def default_palette(num_classes: int) -> np.ndarray:
    """A fixed palette, the same on every run: ``(K, 3)`` uint8 RGB."""
    if num_classes < 0:
        raise ValueError(f'num_classes must be >= 0, got {num_classes}')
    rng = np.random.RandomState(2020)
    return rng.randint(0, 256, size=(num_classes, 3)).astype(np.uint8)


def palette_from_meta(meta: Optional[Mapping], num_classes: int) -> np.ndarray:
    """``meta['palette']`` (e.g. a model's ``dataset_meta``) as ``(K, 3)``
    uint8 RGB when it has at least ``num_classes`` colours, else
    :func:`default_palette`."""
    pal = (meta or {}).get('palette')
    if pal is not None:
        arr = np.asarray(pal)
        if arr.ndim == 2 and arr.shape[1] == 3 and arr.shape[0] >= num_classes:
            return np.clip(arr[:num_classes], 0, 255).astype(np.uint8)
    return default_palette(num_classes)
