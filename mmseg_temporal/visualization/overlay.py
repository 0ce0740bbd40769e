"""Per-frame drawing with OpenCV/NumPy: a prediction blended over its frame,
panels side by side, a class-colour legend, the frame index.

Frames are ``(H, W, 3)`` uint8 BGR (OpenCV's order); palettes are ``(K, 3)``
uint8 RGB (MMSeg's ``dataset_meta['palette']`` order).
"""
from typing import Optional, Sequence

import cv2
import numpy as np

__all__ = ['overlay_prediction', 'side_by_side', 'legend_strip',
           'draw_frame_index', 'draw_name', 'upscale_to']

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text_scale(height: int) -> float:
    """Font scale for an image of this height (readable from 96 to 1080 px)."""
    return float(np.clip(height / 480., 0.4, 1.2))


def _draw_text_box(img: np.ndarray, text: str, right: bool = False) -> None:
    """White text on a darkened box in the top-left (or top-right) corner,
    in place: readable on any colour."""
    scale = _text_scale(img.shape[0])
    thick = max(1, int(round(2 * scale)))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    pad = max(2, int(6 * scale))
    w, h = min(tw + 2 * pad, img.shape[1]), min(th + base + 2 * pad,
                                                img.shape[0])
    x0 = img.shape[1] - w if right else 0
    img[:h, x0:x0 + w] = (img[:h, x0:x0 + w] * 0.35).astype(np.uint8)
    cv2.putText(img, text, (x0 + pad, pad + th), _FONT, scale,
                (255, 255, 255), thick, cv2.LINE_AA)


def overlay_prediction(frame: np.ndarray, label: np.ndarray,
                       palette: np.ndarray, alpha: float = 0.5,
                       name: Optional[str] = None) -> np.ndarray:
    """The frame with the palette-coloured prediction blended on top.

    Args:
        frame: ``(H, W, 3)`` uint8 BGR.
        label: ``(H, W)`` integer class map; values outside the palette
            (e.g. an ignore index) are left uncoloured.
        palette: ``(K, 3)`` uint8 RGB.
        alpha: opacity of the prediction, in ``[0, 1]``.
        name: written in the top-left corner when given.

    Returns:
        ``(H, W, 3)`` uint8 BGR.
    """
    if label.shape != frame.shape[:2]:
        raise ValueError(f'label of shape {label.shape} does not match the '
                         f'frame of shape {frame.shape[:2]}')
    if not 0. <= alpha <= 1.:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    pal = np.ascontiguousarray(np.asarray(palette, np.uint8)[:, ::-1])  # BGR
    if label.size and 0 <= label.min() and label.max() < len(pal):
        color = pal.take(label, axis=0)  # every pixel coloured: 8x faster
    else:
        inside = (label >= 0) & (label < len(pal))
        color = frame.copy()
        color[inside] = pal[label[inside]]
    out = cv2.addWeighted(color, alpha, frame, 1. - alpha, 0.)
    if name:
        _draw_text_box(out, name)
    return out


def side_by_side(panels: Sequence[np.ndarray], gap: int = 0) -> np.ndarray:
    """Panels of one height next to each other: ``(H, sum W_i + gaps, 3)``,
    white gaps between them."""
    if not panels:
        raise ValueError('side_by_side needs at least one panel')
    heights = {p.shape[0] for p in panels}
    if len(heights) != 1:
        raise ValueError(f'panels differ in height: {sorted(heights)}')
    if gap <= 0 or len(panels) == 1:
        return np.concatenate(list(panels), axis=1)
    sep = np.full((panels[0].shape[0], gap, 3), 255, np.uint8)
    parts = []
    for i, p in enumerate(panels):
        parts += [sep, p] if i else [p]
    return np.concatenate(parts, axis=1)


def upscale_to(img: np.ndarray, min_height: int) -> np.ndarray:
    """``img`` enlarged by the smallest integer factor that makes it at
    least ``min_height`` rows tall (nearest neighbour: label edges stay
    sharp); unchanged when it already is."""
    factor = int(np.ceil(min_height / img.shape[0])) if min_height else 1
    if factor <= 1:
        return img
    return cv2.resize(img, (img.shape[1] * factor, img.shape[0] * factor),
                      interpolation=cv2.INTER_NEAREST)


def draw_name(img: np.ndarray, name: str) -> np.ndarray:
    """A copy of ``img`` with ``name`` in its top-left corner."""
    out = img.copy()
    _draw_text_box(out, name)
    return out


def draw_frame_index(img: np.ndarray, index: int,
                     total: Optional[int] = None) -> np.ndarray:
    """A copy of ``img`` with ``frame <index>`` (``/<total>`` when known) in
    its top-right corner."""
    out = img.copy()
    text = f'frame {index}' + (f'/{total}' if total else '')
    _draw_text_box(out, text, right=True)
    return out


def legend_strip(class_names: Sequence[str], palette: np.ndarray,
                 width: int, height_hint: int = 480) -> np.ndarray:
    """A white ``(h, width, 3)`` uint8 BGR strip with one colour swatch and
    name per class, wrapped onto as many rows as ``width`` needs.

    Args:
        class_names: the names, in class-index order.
        palette: ``(K, 3)`` uint8 RGB with ``K >= len(class_names)``.
        width: width of the strip (that of the canvas it goes under).
        height_hint: height of that canvas; sets the text size.
    """
    pal = np.asarray(palette, np.uint8)
    if len(pal) < len(class_names):
        raise ValueError(f'palette has {len(pal)} colours for '
                         f'{len(class_names)} classes')
    scale = _text_scale(height_hint) * 0.8
    thick = max(1, int(round(1.5 * scale)))
    th = cv2.getTextSize('Ag', _FONT, scale, thick)[0][1]
    box, pad = th + 4, max(4, th // 2)
    row_h = box + 2 * pad
    items, x, row = [], pad, 0
    for c, name in enumerate(class_names):
        item_w = box + pad + cv2.getTextSize(str(name), _FONT, scale,
                                             thick)[0][0] + 2 * pad
        if x + item_w > width and x > pad:
            x, row = pad, row + 1
        items.append((c, str(name), x, row))
        x += item_w
    strip = np.full(((row + 1) * row_h, width, 3), 255, np.uint8)
    for c, name, x, r in items:
        y = r * row_h + pad
        color = tuple(int(v) for v in pal[c][::-1])
        cv2.rectangle(strip, (x, y), (x + box, y + box), color, -1)
        cv2.rectangle(strip, (x, y), (x + box, y + box), (0, 0, 0), 1)
        cv2.putText(strip, name, (x + box + pad, y + box - 2), _FONT, scale,
                    (0, 0, 0), thick, cv2.LINE_AA)
    return strip
