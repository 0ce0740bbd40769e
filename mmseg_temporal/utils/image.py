"""Reading frames as RGB arrays (the one image reader of the flow tools)."""
from typing import Optional, Tuple

import cv2
import numpy as np
from mmengine.fileio import get as file_get

__all__ = ['read_rgb']


def read_rgb(path: str, shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Reads an image file as RGB.

    Args:
        path: the image (any MMEngine file backend path).
        shape: ``(H, W)`` to resize to (bilinear), or None to keep its size.

    Returns:
        ``(H, W, 3)`` uint8 RGB.

    Raises:
        FileNotFoundError: the file is missing (the message names it).
        ValueError: the file is not a decodable image (named too).
    """
    try:
        buf = np.frombuffer(file_get(path), np.uint8)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'frame not found: {path}') from e
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise ValueError(f'cannot decode the image {path}')
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if shape is not None and img.shape[:2] != tuple(shape):
        h, w = shape
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return img
