"""A streaming per-frame video inferencer, in the shape of MMSeg's
``MMSegInferencer``, with the smoothing users reach for against flicker.

:class:`VideoInferencer` reads frames from any :class:`FrameSource` input
(video file, folder of frames, camera index, stream URL), runs one model
(PyTorch or onnxruntime, :mod:`.frame_models`) on each frame in order and
yields one :class:`FramePrediction` per frame, with its timing. It keeps no
per-frame history: memory stays flat on an endless stream (the EMA keeps one
``(K, H, W)`` tensor).

EMA smoothing (``smooth=alpha``) is what MMSeg users hand-roll instead of a
temporally consistent model (mmsegmentation issues #3435, #2819): the
smoothed logits ``s_t = alpha * s_{t-1} + (1 - alpha) * z_t`` (``s_0 =
z_0``), and the label is ``argmax s_t``. ``alpha = 0`` is no smoothing; it
trades flicker for lag on moving objects. ``motion=<flow source>`` warps the
past onto each frame with the flow from it to the previous frame before
blending (motion-compensated EMA,
:func:`mmseg_temporal.inference.smoothing.ema_step`), so the average
follows moving objects.
"""
import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, Optional, Union

import numpy as np
import torch

from ..flow.sources.base import build_flow_source
from ..utils.prefetch import prefetch
from .frame_models import build_frame_model, labels_of
from .frame_source import FrameSource
from .smoothing import EMASmoother, ema_smooth_logits, flow_at_logits

__all__ = ['VideoInferencer', 'FramePrediction', 'EMASmoother',
           'ema_smooth_logits']

Array = Union[np.ndarray, torch.Tensor]


@dataclass
class FramePrediction:
    """One frame's result.

    Attributes:
        index: frame index in the input (0-based).
        frame: the ``(H, W, 3)`` uint8 BGR frame.
        label: ``(H, W)`` int64 predicted class map (after smoothing).
        logits: ``(K, H, W)`` float32 (smoothed) logits, when asked for.
        timing: milliseconds: ``read`` (the wait for the frame, read
            ahead on a thread), ``prep``
            (pipeline), ``model`` (the model call), ``flow`` (the motion
            source; 0 without one), ``post`` (smoothing and argmax),
            ``total`` (prep + model + flow + post).
    """

    index: int
    frame: np.ndarray
    label: np.ndarray
    logits: Optional[np.ndarray] = None
    timing: Dict[str, float] = field(default_factory=dict)


class VideoInferencer:
    """Per-frame segmentation of a video, camera or stream.

    Args:
        model: a config file (``backend='pytorch'``) or an ``.onnx`` file
            (``'onnxruntime'``).
        weights: the checkpoint of a config (PyTorch only).
        backend: ``'pytorch'``, ``'onnxruntime'`` or ``None`` (from the file
            extension).
        device: ``'cpu'``, ``'cuda:0'``, ...
        smooth: EMA weight of the past logits, in ``[0, 1)``; 0: off.
        motion: a flow source (anything
            :func:`~mmseg_temporal.flow.sources.build_flow_source` takes,
            e.g. ``dict(type='DISFlow', preset='fast')``) for
            motion-compensated smoothing; ``None``: plain EMA. It is called
            as ``source(path_t, path_t-1, rgb_t, rgb_t-1)``, the paths
            ``None`` unless the input is a folder of frames: sources that
            need files (a flow cache, the synthetic video's exact flow)
            work on folders only.
        name: label of the model in outputs.
        precision: ``'fp32'`` or ``'bf16'`` (autocast) for a PyTorch model;
            an ``.onnx`` runs the precision it was exported in (``None`` or
            that one; int8: ``tools/export_onnx.py --precision int8``).

    Example::

        >>> inferencer = VideoInferencer('export/student.py',
        ...                              'export/student.pth', smooth=0.5)
        >>> for pred in inferencer('clip.mp4', max_frames=100):
        ...     print(pred.index, pred.timing['model'], pred.label.shape)
    """

    def __init__(self, model: str, weights: Optional[str] = None,
                 backend: Optional[str] = None, device: str = 'cpu',
                 smooth: float = 0., name: Optional[str] = None,
                 motion: Optional[Union[dict, Callable]] = None,
                 precision: Optional[str] = None) -> None:
        self.smoother = EMASmoother(smooth)
        self.motion = None if motion is None else build_flow_source(motion)
        self._prev = None  # (path, RGB) of the previous frame, with motion
        self.model = build_frame_model(model, weights, backend, device, name,
                                       precision)
        self.backend, self.device = self.model.backend, device
        self.precision = self.model.precision

    name = property(lambda self: self.model.name)
    num_classes = property(lambda self: self.model.num_classes)
    palette = property(lambda self: self.model.palette)
    class_names = property(lambda self: self.model.class_names)

    def reset(self) -> None:
        """Forget the smoothing state (call between videos)."""
        self.smoother.reset()
        self._prev = None

    def _flow(self, frame: np.ndarray, path: Optional[str], size):
        """``(flow, valid)`` from this frame to the previous one at the
        logits' ``size``, or ``(None, None)`` (no motion or no past)."""
        if self.motion is None or self.smoother.alpha == 0.:
            return None, None
        prev, rgb = self._prev, np.ascontiguousarray(frame[..., ::-1])
        self._prev = (path, rgb)
        if prev is None:
            return None, None
        flow, valid = self.motion(path, prev[0], rgb, prev[1])
        return flow_at_logits(flow, valid, size)

    def predict(self, frame: np.ndarray, index: int = 0,
                return_logits: bool = False,
                path: Optional[str] = None) -> FramePrediction:
        """Segments the next frame of the current video (BGR uint8; its
        file ``path``, if any, for the motion source)."""
        logits, timing = self.model.logits(frame)
        t0 = time.perf_counter()
        flow, valid = self._flow(frame, path, logits.shape[-2:])
        t1 = time.perf_counter()
        logits = self.smoother(logits, flow, valid)
        label = labels_of(logits)
        timing['flow_ms'] = (t1 - t0) * 1e3
        timing['post_ms'] = (time.perf_counter() - t1) * 1e3
        timing = {k[:-3]: v for k, v in timing.items()}
        timing['total'] = (timing['prep'] + timing['model'] + timing['flow']
                           + timing['post'])
        return FramePrediction(
            index=index, frame=frame, label=label, timing=timing,
            logits=logits.cpu().numpy() if return_logits else None)

    def __call__(self, inputs: Union[str, int, FrameSource,
                                     Iterable[np.ndarray]],
                 max_frames: Optional[int] = None, warmup: int = 0,
                 return_logits: bool = False, prefetch_frames: int = 2,
                 **source_kwargs) -> Iterator[FramePrediction]:
        """Yields a :class:`FramePrediction` per frame, in order.

        Args:
            inputs: a :class:`FrameSource` argument (path, camera index,
                URL), a :class:`FrameSource`, or any iterable of BGR frames.
            max_frames: stop after this many frames.
            warmup: untimed, unsmoothed model calls on the first frame.
            return_logits: keep the logits in each prediction.
            prefetch_frames: frames read ahead on a background thread
                (:func:`mmseg_temporal.utils.prefetch.prefetch`; 0: none).
                ``timing['read']`` is then the wait for the next frame.
            **source_kwargs: passed to :class:`FrameSource` (``fps``,
                ``pattern``, ``kind``).
        """
        if isinstance(inputs, (str, int)) or hasattr(inputs, '__fspath__'):
            inputs = FrameSource(inputs, max_frames=max_frames,
                                 **source_kwargs)
        self.reset()
        paths = inputs.files if isinstance(inputs, FrameSource) else []
        with contextlib.closing(prefetch(inputs, prefetch_frames)) as frames:
            for index in range(max_frames or np.iinfo(np.int64).max):
                t0 = time.perf_counter()
                frame = next(frames, None)
                if frame is None:
                    return
                read_ms = (time.perf_counter() - t0) * 1e3
                if index == 0:
                    for _ in range(warmup):
                        self.model.logits(frame)
                pred = self.predict(frame, index, return_logits,
                                    paths[index] if index < len(paths) else None)
                pred.timing['read'] = read_ms
                yield pred
