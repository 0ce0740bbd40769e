"""Per-frame video inference with exported models: overlay video, TC curve
and latency (the logic behind ``tools/video_demo.py``).

The method of the paper infers one frame at a time, so every model here sees
the frames one by one, in order. For each model the demo keeps

* the predicted label map of every frame (drawn over the frame, palette
  coloured, into ``overlay.mp4``; models side by side),
* the temporal consistency (TC, appendix B.3 of the paper) between each pair
  of neighbouring frames, computed with
  :func:`mmseg_temporal.evaluation.functional.tc_intersect_union` and a flow
  computed once per frame pair and shared by all models (``tc_curve.png``,
  like the paper's Fig. 3),
* the latency of the model call on every frame (``latency.json``).

Models are plain MMSeg config + checkpoint pairs (what
:func:`mmseg_temporal.apis.export_student` writes); nothing here needs the
plugin's own model classes, only its flow estimators and TC core.
"""
import json
import fnmatch
import os
import os.path as osp
import time
from collections import OrderedDict
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from mmseg_temporal.evaluation.functional import (tc_aggregate,
                                                  tc_intersect_union)
from ..models.flow.base import flow_of_images
from ..utils.atomic import atomic_write_bytes
from ..visualization import (default_palette, overlay_prediction,
                             palette_from_meta, plot_tc_curve, side_by_side)

__all__ = [
    'VideoInputError', 'FrameSource', 'FrameSegmentor', 'default_palette',
    'model_palette', 'overlay_prediction', 'side_by_side', 'latency_stats',
    'plot_tc_curve', 'run_video_demo', 'format_summary'
]

IMAGE_EXTS = ('.png', '.jpg', '.jpeg')
DEFAULT_FLOW = dict(type='DISFlow')


class VideoInputError(ValueError):
    """An input video / frame folder that cannot be used (names the path)."""


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------
class FrameSource:
    """Frames of a video file (any format OpenCV reads: mp4, avi, ...) or of
    a folder of images (png/jpg, sorted by file name).

    The path is checked on construction: a missing path raises
    ``FileNotFoundError``, a video OpenCV cannot open or a folder without
    images raises :class:`VideoInputError`, both naming the path.

    Args:
        path: video file or folder of frames.
        max_frames: read at most this many frames (``None``: all).
        fps: frame rate reported for a folder (a video reports its own,
            falling back to this one when the container has none).
        pattern: for a folder, a glob pattern the frame file names must
            match (e.g. ``'*_img.png'``); ``None`` takes every image.
    """

    def __init__(self, path: str, max_frames: Optional[int] = None,
                 fps: float = 10., pattern: Optional[str] = None) -> None:
        self.path = os.fspath(path)
        if max_frames is not None and max_frames < 1:
            raise ValueError(f'max_frames must be >= 1, got {max_frames}')
        self.max_frames = max_frames
        if not osp.exists(self.path):
            raise FileNotFoundError(f'input video or frame folder not found: '
                                    f'{self.path}')
        self.is_folder = osp.isdir(self.path)
        self.fps = float(fps)
        if self.is_folder:
            self.files = sorted(
                osp.join(self.path, f) for f in os.listdir(self.path)
                if f.lower().endswith(IMAGE_EXTS)
                and (pattern is None or fnmatch.fnmatch(f, pattern))
                and osp.isfile(osp.join(self.path, f)))
            if not self.files:
                raise VideoInputError(
                    f'no frames ({"/".join(IMAGE_EXTS)}'
                    f'{", matching " + repr(pattern) if pattern else ""}) in '
                    f'folder {self.path}')
            self._count = len(self.files)
        else:
            self.files = []
            cap = cv2.VideoCapture(self.path)
            try:
                if not cap.isOpened():
                    raise VideoInputError(f'cannot open video {self.path} '
                                          '(not a video OpenCV can read)')
                ok, _ = cap.read()
                if not ok:
                    raise VideoInputError(f'no frame can be read from video '
                                          f'{self.path}')
                fps_v = cap.get(cv2.CAP_PROP_FPS)
                if fps_v and np.isfinite(fps_v) and fps_v > 0:
                    self.fps = float(fps_v)
                n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
                self._count = n if n > 0 else None
            finally:
                cap.release()

    def __len__(self) -> int:
        """Expected number of frames (a video's header count may be off by
        a few; iteration stops at the real end). 0 when unknown."""
        n = self._count or 0
        return min(n, self.max_frames) if self.max_frames else n

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yields ``(H, W, 3)`` uint8 BGR frames, all of the first frame's
        size (a folder frame of another size raises, naming the file)."""
        size = None
        for i, frame in enumerate(self._raw()):
            if self.max_frames is not None and i >= self.max_frames:
                return
            if size is None:
                size = frame.shape[:2]
            elif frame.shape[:2] != size:
                where = self.files[i] if self.is_folder else \
                    f'{self.path} (frame {i})'
                raise VideoInputError(
                    f'{where}: frame size {frame.shape[1]}x{frame.shape[0]} '
                    f'differs from the first frame\'s {size[1]}x{size[0]}')
            yield frame

    def _raw(self) -> Iterator[np.ndarray]:
        if self.is_folder:
            for f in self.files:
                img = cv2.imread(f, cv2.IMREAD_COLOR)
                if img is None:
                    raise VideoInputError(f'cannot read image {f}')
                yield img
            return
        cap = cv2.VideoCapture(self.path)
        try:
            while True:
                ok, img = cap.read()
                if not ok:
                    return
                yield img
        finally:
            cap.release()


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------
def _check_file(path: str, what: str) -> str:
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


class FrameSegmentor:
    """One exported model, run on one BGR frame at a time.

    Built with :func:`mmseg.apis.init_model`; the model's test pipeline is
    composed once (``LoadAnnotations`` dropped, images fed as arrays), and
    :meth:`__call__` times only ``model.test_step`` (data preprocessor,
    forward and resize of the prediction back to the frame size).

    Args:
        config: the model's config file.
        checkpoint: its checkpoint.
        device: torch device, e.g. ``'cpu'``, ``'cuda:0'``.
        name: label of the model in the outputs.
    """

    def __init__(self, config: str, checkpoint: str, device: str = 'cpu',
                 name: Optional[str] = None) -> None:
        from mmengine.config import Config
        from mmengine.dataset import Compose
        from mmengine.runner import load_checkpoint
        from mmseg.apis import init_model

        self.config = _check_file(config, 'config file')
        self.checkpoint = _check_file(checkpoint, 'checkpoint file')
        self.name = name or osp.splitext(osp.basename(self.config))[0]
        self.device = device
        cfg = Config.fromfile(self.config)
        pipeline = cfg.get('test_pipeline')
        if not pipeline:
            dl = cfg.get('test_dataloader') or {}
            pipeline = (dl.get('dataset') or {}).get('pipeline')
        if not pipeline:
            raise ValueError(f'{self.config}: the config has no test_pipeline')
        pipeline = [dict(p) for p in pipeline
                    if p.get('type') != 'LoadAnnotations']
        if 'LoadImage' not in str(pipeline[0].get('type')):
            raise ValueError(f'{self.config}: test_pipeline must start with '
                             f'an image loader, got {pipeline[0]}')
        pipeline[0] = dict(type='LoadImageFromNDArray')
        # init_model without the checkpoint, then load it: init_model needs a
        # 'meta' entry in the checkpoint and invents a dataset palette when
        # the meta has none; here a model without dataset_meta keeps None and
        # gets the fixed palette of default_palette().
        self.model = init_model(cfg, None, device=device)
        ckpt = load_checkpoint(self.model, self.checkpoint, map_location='cpu')
        meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
        self.model.dataset_meta = (meta or {}).get('dataset_meta') or None
        self.pipeline = Compose(pipeline)
        head = getattr(self.model, 'decode_head', None)
        self.num_classes = int(getattr(head, 'num_classes', 0) or len(
            (self.model.dataset_meta or {}).get('classes') or ()))
        if self.num_classes < 1:
            raise ValueError(f'{self.config}: cannot tell the number of '
                             'classes (no decode_head.num_classes and no '
                             'classes in the checkpoint meta)')
        self.palette = model_palette(self.model, self.num_classes)

    def __call__(self, frame: np.ndarray) -> Tuple[np.ndarray, float]:
        """Segments one frame.

        Args:
            frame: ``(H, W, 3)`` uint8 BGR.

        Returns:
            ``(label, seconds)``: the ``(H, W)`` int64 predicted class map at
            the frame's size, and the latency of the model call in seconds.
        """
        data = self.pipeline(dict(img=frame))
        batch = dict(inputs=[data['inputs']],
                     data_samples=[data['data_samples']])
        cuda = str(self.device).startswith('cuda')
        with torch.no_grad():
            if cuda:
                torch.cuda.synchronize(self.device)
            t0 = time.perf_counter()
            result = self.model.test_step(batch)[0]
            if cuda:
                torch.cuda.synchronize(self.device)
            dt = time.perf_counter() - t0
        label = result.pred_sem_seg.data[0].to('cpu', torch.int64).numpy()
        return label, dt


def model_palette(model, num_classes: int) -> np.ndarray:
    """The palette of ``model.dataset_meta`` (see
    :func:`mmseg_temporal.visualization.palette_from_meta`)."""
    return palette_from_meta(getattr(model, 'dataset_meta', None), num_classes)


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------
def latency_stats(seconds: Sequence[float]) -> Dict[str, Union[float, int]]:
    """``mean_ms``, ``median_ms``, ``p99_ms`` per frame and ``frames``."""
    ms = np.asarray(seconds, np.float64) * 1e3
    if ms.size == 0:
        return dict(mean_ms=None, median_ms=None, p99_ms=None, frames=0)
    return dict(mean_ms=float(ms.mean()), median_ms=float(np.median(ms)),
                p99_ms=float(np.percentile(ms, 99)), frames=int(ms.size))


def _finite_or_none(x: float) -> Optional[float]:
    return float(x) if x is not None and np.isfinite(x) else None


def format_summary(summary: Dict) -> str:
    """The per-model table of :func:`run_video_demo`'s summary."""
    rows = [('model', 'frames', 'mean ms', 'median ms', 'p99 ms', 'mTC %',
             'mean pair TC %')]

    def f(x):
        return 'n/a' if x is None else f'{x:.2f}'

    for name, m in summary['models'].items():
        lat = m['latency']
        rows.append((name, str(lat['frames']), f(lat['mean_ms']),
                     f(lat['median_ms']), f(lat['p99_ms']), f(m['mTC']),
                     f(m['mean_pair_TC'])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines)


# --------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------
def _unique_names(names: Sequence[str]) -> List[str]:
    out, seen = [], {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f'{n}_{seen[n]}')
    return out


def run_video_demo(source: str,
                   models: Sequence[Tuple[str, str]],
                   out_dir: str,
                   names: Optional[Sequence[str]] = None,
                   device: str = 'cpu',
                   max_frames: Optional[int] = None,
                   flow: Optional[dict] = None,
                   fps: float = 10.,
                   alpha: float = 0.5,
                   warmup: int = 2,
                   progress: bool = True,
                   pattern: Optional[str] = None) -> Dict:
    """Runs one or more exported models frame by frame over a video.

    Writes into ``out_dir``: ``overlay.mp4`` (predictions over the frames,
    models side by side, each panel named when there are several models or
    ``names`` are given), ``tc_curve.png`` (TC of each pair of neighbouring
    frames, per model) and ``latency.json`` (the returned summary).

    Args:
        source: video file (mp4, avi, ...) or folder of png/jpg frames.
        models: ``(config, checkpoint)`` pairs, plain MMSeg models.
        out_dir: output folder (created).
        names: one name per model (default: the config file names).
        device: torch device of the models and of the flow estimator.
        max_frames: use at most this many frames.
        flow: config of a registered flow estimator (default ``DISFlow``),
            built with ``mmseg.registry.MODELS``; the flow from frame t-1 to
            frame t is computed once and shared by all models.
        fps: frame rate of the overlay video for a folder input.
        alpha: opacity of the predictions in the overlay.
        warmup: untimed model calls on the first frame before timing.
        progress: show a tqdm progress bar over frames.
        pattern: glob of the frame file names for a folder input.

    Returns:
        dict with ``source``, ``device``, ``flow``, ``num_frames``,
        ``outputs`` (paths) and ``models``: per name, ``config``,
        ``checkpoint``, ``latency`` (:func:`latency_stats`), ``mTC``
        (per-class I/U summed over all pairs, class mean; percent, like
        the project's TC metric), ``mean_pair_TC`` (mean of the curve) and
        ``tc_curve`` (per pair). Undefined values are ``None``.
    """
    import mmseg_temporal.models  # noqa: F401  (registers the flow models)
    from mmseg.registry import MODELS
    from tqdm import tqdm

    frames = FrameSource(source, max_frames=max_frames, fps=fps,
                         pattern=pattern)
    if not models:
        raise ValueError('at least one (config, checkpoint) pair is needed')
    for cfg_file, ckpt_file in models:  # check every file before any build
        _check_file(cfg_file, 'config file')
        _check_file(ckpt_file, 'checkpoint file')
    if names is not None and len(names) != len(models):
        raise ValueError(f'{len(names)} names given for {len(models)} models')
    label_panels = names is not None or len(models) > 1
    if names is None:
        names = [osp.splitext(osp.basename(c))[0] for c, _ in models]
    names = _unique_names(list(names))
    flow_cfg = dict(flow or DEFAULT_FLOW)
    estimator = MODELS.build(dict(flow_cfg)).to(device).eval()
    segmentors = [FrameSegmentor(c, k, device, n)
                  for (c, k), n in zip(models, names)]

    os.makedirs(out_dir, exist_ok=True)
    video_file = osp.join(out_dir, 'overlay.mp4')
    curve_file = osp.join(out_dir, 'tc_curve.png')
    json_file = osp.join(out_dir, 'latency.json')

    times: Dict[str, List[float]] = {s.name: [] for s in segmentors}
    pairs: Dict[str, list] = {s.name: [] for s in segmentors}
    prev_frame = None
    prev_labels: Dict[str, np.ndarray] = {}
    writer = None
    n = 0
    bar = tqdm(total=len(frames) or None, unit='frame', disable=not progress,
               desc='video demo')
    try:
        for frame in frames:
            if n == 0:
                for seg in segmentors:
                    for _ in range(warmup):
                        seg(frame)
            labels = {}
            for seg in segmentors:
                labels[seg.name], dt = seg(frame)
                times[seg.name].append(dt)
            if prev_frame is not None:
                fl = flow_of_images(estimator, prev_frame[..., ::-1],
                                    frame[..., ::-1], device)  # BGR -> RGB
                for seg in segmentors:
                    pairs[seg.name].append(tc_intersect_union(
                        prev_labels[seg.name], labels[seg.name], fl,
                        seg.num_classes, ignore_index=255))
            panels = [overlay_prediction(frame, labels[s.name], s.palette,
                                         alpha, s.name if label_panels
                                         else None) for s in segmentors]
            canvas = side_by_side(panels)
            if writer is None:
                h, w = canvas.shape[:2]
                writer = cv2.VideoWriter(
                    video_file, cv2.VideoWriter_fourcc(*'mp4v'), frames.fps,
                    (w, h))
                if not writer.isOpened():
                    raise RuntimeError(f'cannot write video {video_file} '
                                       "(OpenCV's 'mp4v' writer failed)")
            writer.write(canvas)
            prev_frame, prev_labels = frame, labels
            n += 1
            bar.update(1)
    finally:
        bar.close()
        if writer is not None:
            writer.release()

    results = OrderedDict()
    curves, means = OrderedDict(), OrderedDict()
    for seg in segmentors:
        agg = tc_aggregate([pairs[seg.name]])
        curve = agg['per_pair'][0]
        curves[seg.name] = curve
        means[seg.name] = agg['mTC']
        finite = curve[np.isfinite(curve)]
        results[seg.name] = dict(
            config=osp.abspath(seg.config),
            checkpoint=osp.abspath(seg.checkpoint),
            latency=latency_stats(times[seg.name]),
            mTC=_finite_or_none(agg['mTC']),
            mean_pair_TC=_finite_or_none(finite.mean()) if finite.size
            else None,
            tc_curve=[_finite_or_none(v) for v in curve])
    plot_tc_curve(curves, curve_file, means=means,
                  frame_indices={k: np.arange(1, len(v) + 1)
                                 for k, v in curves.items()},
                  xlabel='frame index t (TC of frames t-1 and t)',
                  title=f'TC between neighbouring frames: '
                        f'{osp.basename(osp.normpath(frames.path))}')
    summary = dict(source=osp.abspath(frames.path), device=str(device),
                   flow=flow_cfg, num_frames=n, warmup_calls=warmup,
                   outputs=dict(video=video_file, tc_curve=curve_file,
                                latency=json_file),
                   models=results)
    atomic_write_bytes(json_file,
                       json.dumps(summary, indent=2).encode('utf-8'))
    return summary
