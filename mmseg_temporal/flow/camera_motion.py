"""A known small camera motion of one frame: the seeded motion, the moved
frame (and label), the exact flow between them and its validity, and the
sensor nuisances of a second exposure.

Used by the motion-consistency test wrapper (``MotionConsistencySegmentor``:
a frame against itself moved) and by ``StillToClip`` (clips made of one
labelled frame), so both move frames the same way. Bottom layer: numpy,
OpenCV and torch only; warping is :func:`~.ops.flow_warp`, the
project's one warp, and the flows follow its convention (docs/flow.md):
``flow[p]`` points from pixel ``p`` of one frame to where it is in the
other, channel 0 horizontal, pixels.

A motion maps a point ``x`` of the original frame (pixel-index
coordinates: pixel centres at integers) to ``M x`` in the moved frame
(``M`` 3x3, affine or a homography): ``moved(M x) = original(x)``. So

* the moved frame is ``flow_warp(original, M^-1 q - q)``;
* the flow original -> moved is ``M p - p`` (exact, no estimator);
* a pixel of the original is valid when ``M p`` lands inside the moved
  frame on pixels whose source lies inside the original (out-of-frame
  pixels are invalid).
"""
import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor

from .ops import flow_warp

__all__ = ['CameraMotion', 'sample_camera_motion', 'motion_flow',
           'MovedFrame', 'motion_fields', 'move_frame', 'clip_flows', 'apply_sensor_nuisance',
           'random_sensor_nuisance']

Size = Tuple[int, int]


@dataclass(frozen=True)
class CameraMotion:
    """An affine camera motion about the frame centre.

    Args:
        shift: ``(x, y)`` translation in pixels of a frame of ``ref_size``.
        rotation: degrees.
        zoom: relative scale change (0.02: 2 % larger).
        shear: degrees (x sheared along y).
        ref_size: ``(H, W)`` the shift is measured at (the scored
            resolution); None: the size the motion is applied at. At
            another size the motion is the same motion of the scene
            (rescaled with MMSeg's pixel-centre convention of resizing).
    """
    shift: Tuple[float, float] = (0.0, 0.0)
    rotation: float = 0.0
    zoom: float = 0.0
    shear: float = 0.0
    ref_size: Optional[Size] = None

    def matrix(self, size: Sequence[int]) -> np.ndarray:
        """``M`` (3x3 float64) in pixel-index coordinates of a frame of
        ``size`` ``(H, W)``."""
        h, w = int(size[0]), int(size[1])
        ref_h, ref_w = self.ref_size if self.ref_size is not None else (h, w)
        scale = np.diag([w / ref_w, h / ref_h])
        th, sh = math.radians(self.rotation), math.radians(self.shear)
        rot = np.array([[math.cos(th), -math.sin(th)],
                        [math.sin(th), math.cos(th)]])
        lin = (1.0 + self.zoom) * rot @ np.array([[1.0, math.tan(sh)], [0, 1]])
        lin = scale @ lin @ np.linalg.inv(scale)  # the scene's motion at size
        centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
        m = np.eye(3)
        m[:2, :2] = lin
        m[:2, 2] = scale @ np.asarray(self.shift, float) + centre - lin @ centre
        return m


def sample_camera_motion(rng, shift: float = 0.0, rotation: float = 0.0,
                         zoom: float = 0.0, shear: float = 0.0,
                         ref_size: Optional[Size] = None) -> CameraMotion:
    """A random :class:`CameraMotion` with magnitudes up to the given ones:
    the shift uniform in the disc of radius ``shift`` pixels (at
    ``ref_size``), rotation, zoom and shear uniform in ``[-a, a]``.

    Args:
        rng: ``np.random.Generator`` or the ``np.random`` module (anything
            with ``uniform``); the draws are in a fixed order, so a seeded
            ``rng`` gives the same motion.
    """
    for name, value in dict(shift=shift, rotation=rotation, zoom=zoom,
                            shear=shear).items():
        if not value >= 0:
            raise ValueError(f'camera motion: {name} must be >= 0, got {value}')
    radius = shift * math.sqrt(rng.uniform(0.0, 1.0))
    angle = rng.uniform(0.0, 2 * math.pi)
    return CameraMotion(
        shift=(radius * math.cos(angle), radius * math.sin(angle)),
        rotation=rng.uniform(-rotation, rotation), zoom=rng.uniform(-zoom, zoom),
        shear=rng.uniform(-shear, shear), ref_size=ref_size)


def motion_flow(matrix: np.ndarray, size: Sequence[int],
                device=None, dtype=torch.float32) -> Tensor:
    """The exact flow ``M p - p`` ``(2, H, W)`` of a motion matrix (a
    homography is divided by its third row)."""
    h, w = int(size[0]), int(size[1])
    m = torch.as_tensor(np.asarray(matrix, np.float64), device=device)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=m.dtype, device=device),
                            torch.arange(w, dtype=m.dtype, device=device),
                            indexing='ij')
    pts = torch.stack((xs, ys, torch.ones_like(xs)))  # (3, H, W)
    moved = torch.einsum('ij,jhw->ihw', m, pts)
    moved = moved[:2] / moved[2:]
    return (moved - pts[:2]).to(dtype)


class MovedFrame(NamedTuple):
    """A frame moved by ``M``; tensors batched like the input.

    ``img`` the moved frame, ``label`` its label (``ignore_index`` where
    out of frame) or None, ``flow`` original -> moved and ``valid`` its
    pixels that land on real content of the moved frame; ``back_flow``
    moved -> original and ``back_valid`` the moved frame's pixels whose
    source lies inside the original.
    """
    img: Tensor
    label: Optional[Tensor]
    flow: Tensor
    valid: Tensor
    back_flow: Tensor
    back_valid: Tensor


def motion_fields(matrix: np.ndarray, size: Sequence[int], device=None
                  ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """The exact flows of a motion at ``size`` ``(H, W)`` and their validity,
    each with a batch dimension of 1: ``(flow, valid, back_flow,
    back_valid)`` as in :class:`MovedFrame`."""
    h, w = int(size[0]), int(size[1])
    inverse = np.linalg.inv(np.asarray(matrix, np.float64))
    back = motion_flow(inverse, (h, w), device)[None]
    ones = torch.ones((1, 1, h, w), device=device)
    _, back_valid = flow_warp(ones, back)
    flow = motion_flow(matrix, (h, w), device)[None]
    # valid: M p inside the moved frame and every pixel read there is real
    landed, inside = flow_warp(back_valid.to(flow.dtype), flow)
    return flow, inside & (landed > 1 - 1e-3), back, back_valid


def move_frame(img: Tensor, matrix: np.ndarray,
               label: Optional[Tensor] = None, ignore_index: int = 255,
               padding_mode: str = 'border') -> MovedFrame:
    """Moves ``img`` ``(B, C, H, W)`` (float) and ``label`` ``(B, 1, H, W)``
    (integer, nearest) by the motion ``matrix`` (every item of the batch by
    the same one).

    ``padding_mode`` fills what enters the frame (``'border'`` repeats the
    edge, ``'zeros'``); those pixels are never valid.
    """
    b = img.shape[0]
    flow, valid, back, back_valid = (
        t.expand(b, -1, -1, -1)
        for t in motion_fields(matrix, img.shape[-2:], img.device))
    moved, _ = flow_warp(img, back, padding_mode=padding_mode)
    moved_label = None
    if label is not None:
        moved_label, inside = flow_warp(label, back, mode='nearest')
        moved_label = moved_label.masked_fill(~inside, ignore_index)
    return MovedFrame(moved, moved_label, flow.contiguous(), valid.contiguous(),
                      back.contiguous(), back_valid.contiguous())


def clip_flows(matrices: Sequence[np.ndarray], size: Sequence[int],
               device=None) -> Tuple[Tensor, Tensor]:
    """The exact flows of a clip whose frame ``i`` is one frame moved by
    ``matrices[i]`` (the identity for the frame itself).

    Returns:
        ``(flows, valid)``: ``(T-1, 2, H, W)`` from frame i to frame i+1
        (``M_{i+1} M_i^-1``) and ``(T-1, 1, H, W)`` bool: the pixels of
        frame i with real content that land on real content of frame i+1.
    """
    real = [motion_fields(m, size, device)[3] for m in matrices]
    flows, valid = [], []
    for i in range(len(matrices) - 1):
        rel = np.asarray(matrices[i + 1], np.float64) @ np.linalg.inv(
            np.asarray(matrices[i], np.float64))
        flow = motion_flow(rel, size, device)[None]
        landed, inside = flow_warp(real[i + 1].to(flow.dtype), flow)
        flows.append(flow[0])
        valid.append((real[i] & inside & (landed > 1 - 1e-3))[0])
    return torch.stack(flows), torch.stack(valid)


def apply_sensor_nuisance(img: np.ndarray, noise_std: float = 0.0,
                          gain: float = 1.0, jpeg_quality: int = 0,
                          rng=None, bgr: bool = False) -> np.ndarray:
    """A second exposure of ``img`` ``(H, W, 3)``: times ``gain``, plus
    Gaussian noise of ``noise_std`` grey levels (from ``rng``), rounded to
    the nearest level and clipped to uint8, then JPEG-compressed at
    ``jpeg_quality`` (0: not). ``bgr``: the channel order of ``img`` (for the
    JPEG colour transform)."""
    if gain != 1.0:
        img = img * gain
    if noise_std:
        if rng is None:
            raise ValueError('apply_sensor_nuisance: noise_std > 0 needs rng')
        img = img + rng.normal(0, noise_std, img.shape)
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)  # rounded: no -0.5 bias
    if jpeg_quality:
        as_bgr = out if bgr else out[..., ::-1]
        _, buf = cv2.imencode('.jpg', np.ascontiguousarray(as_bgr),
                              [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        out = out if bgr else out[..., ::-1].copy()
    return out


def random_sensor_nuisance(img: np.ndarray, rng, noise_std: float = 0.0,
                           gain: float = 0.0, jpeg_quality: int = 0,
                           bgr: bool = False) -> np.ndarray:
    """:func:`apply_sensor_nuisance` with a gain drawn uniformly in
    ``1 +- gain`` from ``rng`` (first), then noise from ``rng``."""
    if not (noise_std >= 0 and 0 <= gain < 1 and 0 <= jpeg_quality <= 100):
        raise ValueError('sensor nuisance: need noise_std >= 0, 0 <= gain < 1, '
                         f'0 <= jpeg_quality <= 100; got noise_std={noise_std}, '
                         f'gain={gain}, jpeg_quality={jpeg_quality}')
    factor = 1.0 + rng.uniform(-gain, gain) if gain else 1.0
    return apply_sensor_nuisance(img, noise_std, factor, jpeg_quality, rng, bgr)
