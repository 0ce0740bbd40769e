"""Procedural video with exact labels and exact optical flow.

A scene is a background (two classes split by a wavy horizon, both with a
fixed world texture) seen by a camera panning at an integer speed, and a few
textured objects (three classes, three shapes) moving at integer speeds in
front of it, in a fixed depth order. Every pixel belongs to one *layer*
(0 = background, ``1 + i`` = object ``i``); a layer moves rigidly, so the
flow between any two frames ``i`` and ``j`` is exact:

    flow_{i->j}(p) = v_{layer_i(p)} * (j - i)

and the pixel is *visible* in frame ``j`` iff ``p + flow`` is inside the
frame and ``layer_j(p + flow) == layer_i(p)``.

All speeds are even integers, so flows stay integer after a resize by 0.5
or 2 (the data tests rely on that for exact label warping).

The generator is deterministic from ``(seed, video_index)``: the same
arguments always give the same pixels.

This module is the generator alone (pixels in memory). The on-disk format
and its readers are :mod:`mmseg_temporal.datasets.synthetic_format`
(also what ``SyntheticExactFlow`` reads); writing a split is
:mod:`.synthetic_split`. Their names are re-exported here.
"""
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from .synthetic_format import (
    read_layers,
    read_velocities,
    synthetic_flow_between,
    synthetic_frame_files,
    synthetic_paths,
)
from .synthetic_nuisance import SyntheticNuisance
from .synthetic_split import write_synthetic_split  # noqa: F401

__all__ = ['SyntheticVideoGenerator', 'SYNTHETIC_CLASSES',
           'SYNTHETIC_PALETTE', 'write_synthetic_split', 'synthetic_paths',
           'synthetic_flow_between', 'read_layers', 'read_velocities',
           'synthetic_frame_files']

SYNTHETIC_CLASSES = ('sky', 'ground', 'vehicle', 'pedestrian', 'sign')
SYNTHETIC_PALETTE = [[70, 130, 180], [128, 64, 128], [0, 0, 142],
                     [220, 20, 60], [220, 220, 0]]
# Base colours (RGB) of the rendered classes; textures modulate them.
_CLASS_COLOURS = np.array(
    [[120, 170, 230], [110, 100, 95], [200, 40, 40], [60, 170, 70],
     [235, 200, 40]], dtype=np.float32)

_TEXTURE_SIZE = 256


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Periodic value noise in [0, 1] of shape (size, size)."""
    grid = rng.random((cells, cells)).astype(np.float32)
    tiled = np.tile(grid, (3, 3))
    up = cv2.resize(tiled, (3 * size, 3 * size), interpolation=cv2.INTER_CUBIC)
    return np.clip(up[size:2 * size, size:2 * size], 0, 1)


class SyntheticVideoGenerator:
    """Renders deterministic videos of moving textured objects.

    Args:
        height, width: frame size in pixels.
        num_objects: ``(min, max)`` objects per video.
        max_object_speed: largest object speed component, pixels per frame
            (rounded down to even).
        max_camera_speed: largest camera pan speed component (even).
        seed: base seed; video ``k`` uses ``(seed, k)``.
        nuisance: seeded causes of flicker, off by default (a dict of
            :class:`~.synthetic_nuisance.SyntheticNuisance` options:
            ``appearance_overlap``, ``small_objects``, ``noise_std``,
            ``lighting_drift``, ``jpeg_quality``).
    """

    classes = SYNTHETIC_CLASSES

    def __init__(self,
                 height: int = 96,
                 width: int = 128,
                 num_objects: Tuple[int, int] = (3, 6),
                 max_object_speed: int = 6,
                 max_camera_speed: int = 2,
                 seed: int = 0,
                 nuisance: Optional[Dict] = None) -> None:
        if height < 16 or width < 16:
            raise ValueError(f'SyntheticVideoGenerator: frame size {height}x'
                             f'{width} is too small (min 16x16)')
        if num_objects[0] < 0 or num_objects[1] < num_objects[0]:
            raise ValueError(f'num_objects must be (min, max) with 0 <= min '
                             f'<= max, got {num_objects}')
        self.height, self.width = int(height), int(width)
        self.num_objects = (int(num_objects[0]), int(num_objects[1]))
        self.max_object_speed = int(max_object_speed) // 2 * 2
        self.max_camera_speed = int(max_camera_speed) // 2 * 2
        self.seed = int(seed)
        self.nuisance = SyntheticNuisance(nuisance)
        self._colours = self.nuisance.colours(_CLASS_COLOURS)
        trng = np.random.default_rng([self.seed, 7919])
        # World textures: one per background class and one per object class.
        self._textures = [
            _smooth_noise(trng, _TEXTURE_SIZE, c) * 0.6 +
            _smooth_noise(trng, _TEXTURE_SIZE, 4 * c) * 0.4
            for c in (8, 6, 10, 12, 9)
        ]

    def params(self) -> Dict:
        """The arguments that determine every pixel (for manifests)."""
        params = dict(height=self.height, width=self.width,
                      num_objects=list(self.num_objects),
                      max_object_speed=self.max_object_speed,
                      max_camera_speed=self.max_camera_speed, seed=self.seed)
        if self.nuisance.options:  # the clean video's manifest is unchanged
            params['nuisance'] = self.nuisance.options
        return params

    # ------------------------------------------------------------------
    def _even_speed(self, rng: np.random.Generator, vmax: int) -> int:
        return int(rng.integers(-(vmax // 2), vmax // 2 + 1)) * 2

    def scene(self, video_index: int, num_frames: int) -> Dict:
        """Draws the scene description of one video (no pixels).

        Returns:
            dict with ``camera`` velocity ``(vx, vy)``, ``horizon`` params and
            ``objects``: list of dicts with ``cls``, ``shape``, ``size``
            ``(h, w)``, ``pos0`` top-left ``(x, y)`` and ``velocity``.
        """
        rng = np.random.default_rng([self.seed, int(video_index), 1])
        h, w = self.height, self.width
        cam = (self._even_speed(rng, self.max_camera_speed),
               self._even_speed(rng, self.max_camera_speed))
        horizon = dict(base=float(rng.uniform(0.35, 0.6) * h),
                       amp=float(rng.uniform(0.02, 0.08) * h),
                       period=float(rng.uniform(0.5, 1.5) * w))
        n = int(rng.integers(self.num_objects[0], self.num_objects[1] + 1))
        objects = [self._draw_object(rng, num_frames, (max(6, h // 8), max(7, h // 3)),
                                     (max(6, w // 8), max(7, w // 3)))
                   for _ in range(n)]
        lo, hi = self.nuisance.small_objects
        if hi:  # their own stream: the objects above stay as they are
            srng = np.random.default_rng([self.seed, int(video_index), 3])
            objects += [self._draw_object(srng, num_frames,
                                          (max(3, h // 33), max(4, h // 12)),
                                          (max(3, w // 33), max(4, w // 12)))
                        for _ in range(int(srng.integers(lo, hi + 1)))]
        return dict(camera=cam, horizon=horizon, objects=objects,
                    index=int(video_index))

    def _draw_object(self, rng: np.random.Generator, num_frames: int,
                     size_h: Tuple[int, int], size_w: Tuple[int, int]) -> Dict:
        """One object: class, shape, size in ``[lo, hi)`` per side, a
        velocity and a start that puts it near the middle halfway through."""
        h, w = self.height, self.width
        cls = int(rng.integers(2, len(SYNTHETIC_CLASSES)))
        oh = int(rng.integers(*size_h))
        ow = int(rng.integers(*size_w))
        v = (self._even_speed(rng, self.max_object_speed),
             self._even_speed(rng, self.max_object_speed))
        # Start so that the object is near the middle halfway through.
        mid_x = int(rng.integers(0, max(1, w - ow)))
        mid_y = int(rng.integers(0, max(1, h - oh)))
        t_mid = num_frames // 2
        return dict(cls=cls, shape=cls - 2, size=(oh, ow),
                    pos0=(mid_x - v[0] * t_mid, mid_y - v[1] * t_mid),
                    velocity=v,
                    tex_offset=(int(rng.integers(0, _TEXTURE_SIZE)),
                                int(rng.integers(0, _TEXTURE_SIZE))))

    @staticmethod
    def _shape_mask(shape: int, oh: int, ow: int) -> np.ndarray:
        yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float32)
        if shape == 0:  # vehicle: rectangle with a cut roof corner
            m = np.ones((oh, ow), bool)
            m[:oh // 3, :ow // 4] = False
            return m
        if shape == 1:  # pedestrian: ellipse
            cy, cx = (oh - 1) / 2, (ow - 1) / 2
            return ((yy - cy) / (oh / 2))**2 + ((xx - cx) / (ow / 2))**2 <= 1
        # sign: triangle pointing up
        return np.abs(xx - (ow - 1) / 2) <= (yy + 1) * ow / (2 * oh)

    def layer_velocities(self, scene: Dict) -> np.ndarray:
        """``(1 + num_objects, 2)`` int array: image-space velocity of each
        layer in pixels per frame (background moves opposite to the camera)."""
        cam = scene['camera']
        vel = [(-cam[0], -cam[1])] + [o['velocity'] for o in scene['objects']]
        return np.asarray(vel, dtype=np.int64)

    def render_frame(self, scene: Dict, t: int) -> Dict[str, np.ndarray]:
        """Renders frame ``t`` of a scene.

        Returns:
            dict: ``img`` ``(H, W, 3)`` uint8 RGB, ``label`` ``(H, W)`` uint8
            class ids, ``layers`` ``(H, W)`` uint8 layer ids.
        """
        h, w = self.height, self.width
        cam = scene['camera']
        ys, xs = np.mgrid[0:h, 0:w]
        wx = xs + cam[0] * t
        wy = ys + cam[1] * t
        hz = scene['horizon']
        horizon = hz['base'] + hz['amp'] * np.sin(2 * np.pi * wx / hz['period'])
        label = np.where(wy >= horizon, 1, 0).astype(np.uint8)
        tex_bg = np.where(
            label == 1,
            self._textures[1][wy % _TEXTURE_SIZE, wx % _TEXTURE_SIZE],
            self._textures[0][wy % _TEXTURE_SIZE, wx % _TEXTURE_SIZE])
        img = self._colours[label] * (0.55 + 0.9 * tex_bg[..., None])
        layers = np.zeros((h, w), np.uint8)
        for i, obj in enumerate(scene['objects']):
            oh, ow = obj['size']
            x0 = obj['pos0'][0] + obj['velocity'][0] * t
            y0 = obj['pos0'][1] + obj['velocity'][1] * t
            x1, y1 = max(x0, 0), max(y0, 0)
            x2, y2 = min(x0 + ow, w), min(y0 + oh, h)
            if x1 >= x2 or y1 >= y2:
                continue
            m = self._shape_mask(obj['shape'], oh, ow)[y1 - y0:y2 - y0,
                                                        x1 - x0:x2 - x0]
            ty, tx = obj['tex_offset']
            ly, lx = np.mgrid[y1 - y0:y2 - y0, x1 - x0:x2 - x0]
            tex = self._textures[obj['cls']][(ly + ty) % _TEXTURE_SIZE,
                                             (lx + tx) % _TEXTURE_SIZE]
            colour = self._colours[obj['cls']] * (0.45 + 1.1 * tex[..., None])
            region = img[y1:y2, x1:x2]
            region[m] = colour[m]
            label[y1:y2, x1:x2][m] = obj['cls']
            layers[y1:y2, x1:x2][m] = i + 1
        img = self.nuisance.photometric(img, self.seed, scene['index'], t)
        return dict(img=img, label=label, layers=layers)

    def render(self, video_index: int, num_frames: int) -> Dict:
        """Renders a whole video.

        Returns:
            dict: ``imgs`` ``(T, H, W, 3)`` uint8 RGB, ``labels`` ``(T, H, W)``,
            ``layers`` ``(T, H, W)``, ``velocities`` ``(L, 2)``, ``scene``.
        """
        scene = self.scene(video_index, num_frames)
        frames = [self.render_frame(scene, t) for t in range(num_frames)]
        return dict(imgs=np.stack([f['img'] for f in frames]),
                    labels=np.stack([f['label'] for f in frames]),
                    layers=np.stack([f['layers'] for f in frames]),
                    velocities=self.layer_velocities(scene), scene=scene)
