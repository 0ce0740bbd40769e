"""The synthetic video's on-disk format: where its files are, how to read
them, and the exact flow they determine.

A split ``<root>/<split>`` of the synthetic video (written by
:func:`mmseg_temporal.datasets.synthetic_split.write_synthetic_split`)
holds::

    manifest.json                  generator parameters, videos on disk
    video_<k:03d>/NNNN_img.png     frame NNNN (RGB on disk as BGR PNG)
    video_<k:03d>/NNNN_label.png   its class ids
    video_<k:03d>/NNNN_layers.png  its layer ids (0 background, 1 + i object i)
    video_<k:03d>/motion.json      per-layer velocities, pixels per frame

Every layer moves rigidly, so the flow between frames ``i`` and ``j`` is
exact: ``flow_{i->j}(p) = v_{layer_i(p)} * (j - i)``, and the pixel is
visible in frame ``j`` iff ``p + flow`` is inside the frame and
``layer_j(p + flow) == layer_i(p)``. This module is what both the dataset
(``datasets/``) and the exact-flow source (:class:`SyntheticExactFlow`)
read, so neither imports the other's package.
"""
import json
import os.path as osp
from typing import Dict, Tuple

import cv2
import numpy as np

__all__ = ['MANIFEST', 'FORMAT_VERSION', 'synthetic_paths',
           'synthetic_video_dir', 'synthetic_frame_files', 'read_layers',
           'read_velocities', 'synthetic_flow_between', 'fastest_object_speed']

MANIFEST = 'manifest.json'
FORMAT_VERSION = 1


def synthetic_video_dir(root: str, split: str, video: int) -> str:
    """The folder of video ``video`` of a split."""
    return osp.join(root, split, f'video_{video:03d}')


def synthetic_paths(root: str, split: str, video: int,
                    frame: int) -> Dict[str, str]:
    """File paths of one synthetic frame: image, label, layer map and its
    video's motion file."""
    d = synthetic_video_dir(root, split, video)
    return dict(img=osp.join(d, f'{frame:04d}_img.png'),
                label=osp.join(d, f'{frame:04d}_label.png'),
                layers=osp.join(d, f'{frame:04d}_layers.png'),
                motion=osp.join(d, 'motion.json'))


def synthetic_frame_files(img_path: str) -> Dict[str, object]:
    """The inverse of :func:`synthetic_paths` for an image file: its frame
    number and the paths of its layer map and of its video's motion file.

    Raises:
        ValueError: ``img_path`` is not named like a synthetic frame
            (``NNNN_img.png``).
    """
    folder, name = osp.split(img_path)
    stem = name[:-len('_img.png')]
    if not name.endswith('_img.png') or not stem.isdigit():
        raise ValueError(f'{img_path} is not a synthetic-video frame '
                         '(expected NNNN_img.png)')
    return dict(frame=int(stem),
                layers=osp.join(folder, f'{stem}_layers.png'),
                motion=osp.join(folder, 'motion.json'))


def read_layers(path: str) -> np.ndarray:
    """A synthetic frame's ``(H, W)`` uint8 layer-id map."""
    layers = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if layers is None:
        raise FileNotFoundError(f'layer map missing or unreadable: {path}')
    return layers


def read_velocities(motion_path: str) -> np.ndarray:
    """A synthetic video's ``(L, 2)`` per-layer velocities (pixels/frame)."""
    if not osp.exists(motion_path):
        raise FileNotFoundError(f'synthetic motion file missing: {motion_path}')
    with open(motion_path) as f:
        try:
            return np.asarray(json.load(f)['velocities'])
        except (ValueError, KeyError) as e:
            raise ValueError(f'synthetic motion file {motion_path} is '
                             f'corrupt ({type(e).__name__}: {e})') from e


def synthetic_flow_between(layers_i: np.ndarray, layers_j: np.ndarray,
                           velocities: np.ndarray,
                           dt: int) -> Tuple[np.ndarray, np.ndarray]:
    """Exact flow from frame i to frame j = i + dt of a synthetic video.

    Args:
        layers_i, layers_j: ``(H, W)`` layer-id maps of frames i and j.
        velocities: ``(L, 2)`` per-layer velocity, pixels per frame.
        dt: ``j - i`` (any sign).

    Returns:
        ``flow`` ``(2, H, W)`` float32 (x, y displacement in pixels) and
        ``visible`` ``(H, W)`` bool: the pixel lands inside frame j on the
        same layer (not occluded, not out of frame).
    """
    velocities = np.asarray(velocities)
    if layers_i.max(initial=0) >= len(velocities):
        raise ValueError(f'layer id {int(layers_i.max())} has no velocity '
                         f'({len(velocities)} layers known)')
    h, w = layers_i.shape
    disp = velocities[layers_i.astype(np.int64)] * int(dt)  # (H, W, 2)
    ys, xs = np.mgrid[0:h, 0:w]
    tx = xs + disp[..., 0]
    ty = ys + disp[..., 1]
    inside = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
    visible = np.zeros((h, w), bool)
    visible[inside] = layers_j[ty[inside], tx[inside]] == layers_i[inside]
    flow = np.ascontiguousarray(disp.transpose(2, 0, 1)).astype(np.float32)
    return flow, visible


def fastest_object_speed(layers: np.ndarray, velocities: np.ndarray,
                         min_pixels: int = 20) -> float:
    """Speed (pixels/frame) of the fastest object visible in a frame with
    at least ``min_pixels`` pixels, 0 when none is: the per-frame motion
    figure by which the studies pick a split's *fast* frames."""
    ids, counts = np.unique(layers, return_counts=True)
    speed = np.linalg.norm(velocities, axis=1)
    seen = [float(speed[i]) for i, n in zip(ids, counts) if i > 0 and n >= min_pixels]
    return max(seen, default=0.0)
