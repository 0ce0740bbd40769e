"""The video demo: frame source -> per-frame inferencers -> overlay video,
TC curve and latency (the logic behind ``tools/video_demo.py``).

Every model sees the frames one by one, in order (the paper's per-frame
inference). Per model the demo keeps the latency of each call and the
temporal consistency (TC, appendix B.3) of each pair of neighbouring frames,
computed with a flow estimated once per pair and shared by the models. It
writes into ``out_dir``

* ``overlay.mp4``: predictions over the frames, models side by side, small
  inputs enlarged, each panel named, the frame index, a class-colour legend;
  codec: the first of ``codecs`` that this OpenCV writes and reads back
  (:func:`mmseg_temporal.visualization.open_video_writer`);
* ``tc_curve.png``: TC of each pair (t, t+1) over t, one line per model;
* ``latency.json``: the summary :func:`run_video_demo` returns.

The folder is written as a whole into a temporary sibling and replaces
``out_dir`` only when complete: a run that fails midway leaves an earlier
``out_dir`` as it was and moves its partial output to ``OUT_DIR.failed``
(one line on stderr says so). An existing ``out_dir`` holding anything but
these outputs is refused before the run starts.
"""
import contextlib
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..evaluation.functional import predicted_union, tc_aggregate, tc_intersect_union
from ..inference.frame_source import FrameSource
from ..inference.inferencer import VideoInferencer
from ..utils.atomic import atomic_output_folder, atomic_write_bytes, failed_sibling
from ..utils.prefetch import prefetch
from ..visualization import DEFAULT_CODECS, VideoWriterThread, plot_tc_curve
from .canvas import DemoCanvas
from .summary import finite_or_none, latency_stats

__all__ = ['run_video_demo', 'DemoCanvas', 'PairConsistency',
           'build_inferencers', 'DEFAULT_FLOW']

DEFAULT_FLOW = dict(type='DISFlow')
OUTPUT_NAMES = dict(video='overlay.mp4', tc_curve='tc_curve.png',
                    latency='latency.json')
ModelSpec = Union[str, Tuple[str, Optional[str]]]


def _unique_names(names: Sequence[str]) -> List[str]:
    out, seen = [], {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f'{n}_{seen[n]}')
    return out


def build_inferencers(models: Sequence[ModelSpec],
                      names: Optional[Sequence[str]] = None,
                      backend: Optional[str] = None, device: str = 'cpu',
                      smooth: float = 0.,
                      precision: Optional[str] = None) -> List[VideoInferencer]:
    """One :class:`VideoInferencer` per model: ``(config, checkpoint)`` for
    PyTorch, an ``.onnx`` path (or ``(onnx, None)``) for onnxruntime. Every
    file is checked before any model is built; names default to the export
    folder's (:func:`mmseg_temporal.inference.frame_models.default_model_name`)
    and are made unique."""
    from ..inference.frame_models import default_model_name
    from ..inference.model_files import check_input_file
    if not models:
        raise ValueError('at least one model is needed')
    specs = [(m, None) if isinstance(m, (str, os.PathLike)) else tuple(m)
             for m in models]
    if names is not None and len(names) != len(specs):
        raise ValueError(f'{len(names)} names given for {len(specs)} models')
    for model, weights in specs:
        what = 'ONNX model' if str(model).endswith('.onnx') else 'config file'
        check_input_file(model, what)
        if weights is not None:
            check_input_file(weights, 'checkpoint file')
    names = _unique_names(list(names) if names is not None else
                          [default_model_name(m) for m, _ in specs])
    # precision: the PyTorch models' (an .onnx runs what it was exported in)
    return [VideoInferencer(m, w, backend, device, smooth, name=n,
                            precision=None if w is None else precision)
            for (m, w), n in zip(specs, names)]


class PairConsistency:
    """TC of neighbouring frames per model, with one flow per pair.

    Args:
        names: the models.
        num_classes: per model, K (its mTC runs over the classes any
            compared model with K classes predicts: :meth:`class_set`).
        flow: config of a registered flow estimator (``mmseg.registry``
            MODELS, e.g. ``dict(type='DISFlow')``), built as a flow source
            (``build_flow_source``); a file-keyed source is refused: the
            demo's frames have no files.
        device: where the estimator runs.
    """

    def __init__(self, names: Sequence[str], num_classes: Sequence[int],
                 flow: Optional[dict], device: str = 'cpu') -> None:
        from ..flow.sources.base import build_flow_source
        from ..flow.sources.estimator import EstimatorFlow
        self.flow_cfg = dict(flow or DEFAULT_FLOW)
        self.source = build_flow_source(dict(self.flow_cfg))
        if not isinstance(self.source, EstimatorFlow):
            raise ValueError(
                f'demo flow {self.flow_cfg["type"]!r} is a file-keyed flow '
                'source; the demo needs a flow estimator (e.g. DISFlow, '
                'FlowNet2): its frames have no files')
        self.source.device = device
        self.source.estimator.eval()  # built now: a bad config fails early
        self.names, self.num_classes = list(names), list(num_classes)
        self.device = device
        self.pairs: Dict[str, list] = {n: [] for n in self.names}
        self.predicted: Dict[str, set] = {n: set() for n in self.names}
        self._prev = None

    def update(self, frame: np.ndarray, labels: Sequence[np.ndarray]) -> None:
        """Adds frame t+1 (BGR) and the models' labels of it."""
        for n, label in zip(self.names, labels):
            self.predicted[n].update(np.unique(label).tolist())
        if self._prev is not None:
            prev_frame, prev_labels = self._prev
            flow = self.source.compute(prev_frame[..., ::-1],
                                       frame[..., ::-1])
            for n, k, a, b in zip(self.names, self.num_classes, prev_labels,
                                  labels):
                self.pairs[n].append(tc_intersect_union(a, b, flow, k, 255))
        self._prev = (frame, list(labels))

    def class_set(self, name: str) -> List[int]:
        """The classes a model's mTC runs over: those any compared model
        (with the same number of classes) predicts somewhere in the video
        (:func:`predicted_union`)."""
        k = self.num_classes[self.names.index(name)]
        return [c for c in predicted_union(
            [self.predicted[n] for n, kk in zip(self.names, self.num_classes)
             if kk == k]) if 0 <= c < k]

    def results(self) -> Dict[str, Dict]:
        """Per model: ``mTC`` (I and U of every pair summed per class, mean
        over :meth:`class_set`: a class another model predicts and this one
        never does scores 0), ``mean_pair_TC`` (mean of the curve), ``curve``
        (TC of each pair, percent) and ``classes`` (the class set)."""
        out = {}
        for n in self.names:
            classes = self.class_set(n)
            agg = tc_aggregate([self.pairs[n]], classes=classes)
            curve = agg['per_pair'][0]
            finite = curve[np.isfinite(curve)]
            out[n] = dict(mTC=finite_or_none(agg['mTC']),
                          mean_pair_TC=finite_or_none(finite.mean())
                          if finite.size else None, curve=curve,
                          classes=classes)
        return out


def _run_frames(frames, inferencers, tc, writer, warmup, bar
                ) -> Tuple[int, float, Dict[str, list]]:
    """The loop: frames are read ahead on one thread and drawn and encoded
    on another (``writer`` renders them), so the model runs while the
    neighbouring frames are decoded and drawn. Returns frames done, the
    time of the first frame's call and per-model timings."""
    times = {i.name: [] for i in inferencers}
    n, t_start = 0, None
    for inf in inferencers:
        inf.reset()
    with contextlib.closing(prefetch(frames, depth=4)) as ahead:
        for index, frame in enumerate(ahead):
            if index == 0:
                for inf in inferencers:
                    for _ in range(warmup):
                        inf.model.logits(frame)
                t_start = time.perf_counter()
            preds = [inf.predict(frame, index) for inf in inferencers]
            for inf, p in zip(inferencers, preds):
                times[inf.name].append(p.timing)
            labels = [p.label for p in preds]
            if tc is not None:
                tc.update(frame, labels)
            writer.write(frame, labels, index)
            n += 1
            bar.update(1)
    return n, t_start, times


def run_video_demo(source: Union[str, int], models: Sequence[ModelSpec],
                   out_dir: str, names: Optional[Sequence[str]] = None,
                   device: str = 'cpu', max_frames: Optional[int] = None,
                   flow: Optional[dict] = None, fps: float = 10.,
                   alpha: float = 0.5, warmup: int = 2, progress: bool = True,
                   pattern: Optional[str] = None,
                   backend: Optional[str] = None, smooth: float = 0.,
                   min_height: int = 360,
                   codecs: Sequence[str] = DEFAULT_CODECS,
                   tc: bool = True, kind: Optional[str] = None,
                   precision: Optional[str] = None) -> Dict:
    """Runs one or more models frame by frame over a video, camera or
    stream and writes the outputs of the module docstring.

    Args:
        source: video file, folder of frames, camera index or stream URL.
        models: ``(config, checkpoint)`` pairs or ``.onnx`` files.
        out_dir: output folder (created).
        names: one name per model (default: from the export folders).
        device, backend, smooth: as for :class:`VideoInferencer`.
        precision: the PyTorch models' (``'fp32'``, ``'bf16'``); an
            ``.onnx`` runs the precision it was exported in.
        max_frames: use at most this many frames (needed for a camera).
        flow: flow estimator config for TC (default ``DISFlow``); ``tc``:
            compute TC and its curve (``False``: no flow estimation).
        fps, pattern, kind: as for :class:`FrameSource`.
        alpha, min_height: prediction opacity; panels are enlarged to at
            least this many rows. ``codecs``: video codec preference.
        warmup: untimed model calls on the first frame; ``progress``: tqdm.

    Returns:
        dict: ``source``, ``device``, ``backend``, ``smooth``, ``flow``,
        ``num_frames``, ``codec``, ``end_to_end_fps``, ``outputs`` and
        ``models`` (per name: files, ``latency`` per stage, ``model_fps``,
        ``mTC``, ``mean_pair_TC``, ``tc_curve``); undefined values ``None``.
    """
    check_out_dir(out_dir)
    frames = FrameSource(source, max_frames=max_frames, fps=fps,
                         pattern=pattern, kind=kind)
    infs = build_inferencers(models, names, backend, device, smooth,
                             precision)
    pair_tc = PairConsistency([i.name for i in infs],
                              [i.num_classes for i in infs], flow,
                              device) if tc else None
    files = {k: osp.join(out_dir, n) if tc or k != 'tc_curve' else None
             for k, n in OUTPUT_NAMES.items()}
    canvas = DemoCanvas(infs, alpha, min_height, len(frames) or None)
    failed = failed_sibling(out_dir, folder=True)
    try:  # the whole folder goes to a sibling, moved into place when done
        with atomic_output_folder(out_dir, failed=failed) as tmp:
            written = {k: v and osp.join(tmp, osp.basename(v))
                       for k, v in files.items()}
            n, wall, codec, times = _encode(frames, infs, pair_tc, canvas,
                                            written['video'], codecs,
                                            warmup, progress)
            run = dict(device=str(device), smooth=smooth, warmup_calls=warmup,
                       flow=pair_tc.flow_cfg if tc else None)
            return _write_outputs(frames, infs, pair_tc, times, n, wall,
                                  codec, files, written, run)
    except BaseException:
        if osp.exists(failed):
            print(f'video demo failed: its partial output is in {failed}; '
                  f'{out_dir} is left as it was', file=sys.stderr)
        raise


def check_out_dir(out_dir: str) -> None:
    """Refuses an ``out_dir`` that is a file or holds anything but the
    demo's outputs (the run replaces the whole folder)."""
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise NotADirectoryError(f'--out-dir {out_dir} is a file')
    other = sorted(set(os.listdir(out_dir)) - set(OUTPUT_NAMES.values())) \
        if osp.isdir(out_dir) else []
    if other:
        raise FileExistsError(
            f'--out-dir {out_dir} holds files the video demo did not write '
            f'({", ".join(other[:5])}); the demo replaces the whole folder: '
            'give an empty or new folder')


def _encode(frames, infs, pair_tc, canvas, video: str, codecs, warmup: int,
            progress: bool) -> Tuple[int, float, Optional[str], Dict]:
    """Runs the models over the frames into ``video``; returns the frames
    done, the wall time, the codec and the per-model timings."""
    from tqdm import tqdm
    bar = tqdm(total=len(frames) or None, unit='frame', disable=not progress,
               desc='video demo')
    writer = VideoWriterThread(video, frames.fps, codecs, render=canvas)
    try:
        n, t_start, times = _run_frames(frames, infs, pair_tc, writer,
                                        warmup, bar)
    except BaseException:
        bar.close()
        with contextlib.suppress(RuntimeError):  # the loop's error wins
            writer.close()
        raise
    bar.close()
    writer.close()  # end to end: until the last frame is encoded
    return n, time.perf_counter() - t_start if n else 0., writer.codec, times


def _write_outputs(frames, infs, pair_tc, times, n, wall, codec, files,
                   written, run) -> Dict:
    """The TC curve and ``latency.json`` (into the ``written`` paths);
    returns the summary (naming ``files``)."""
    tcs = pair_tc.results() if pair_tc is not None else {}
    summary = _summary(frames, infs, times, tcs, n, wall, codec, files, run)
    if pair_tc is not None:
        plot_tc_curve({k: v['curve'] for k, v in tcs.items()},
                      written['tc_curve'],
                      # the curve's own mean: its points average the classes
                      # present in each pair, while mTC pools I and U over
                      # the pairs (a class a model never predicts scores 0)
                      means={k: v['mean_pair_TC'] for k, v in tcs.items()},
                      mean_label='mean of curve',
                      title='TC between neighbouring frames: '
                            f'{osp.basename(osp.normpath(frames.path))} '
                            f'(flow {pair_tc.flow_cfg["type"]})')
    atomic_write_bytes(written['latency'],
                       json.dumps(summary, indent=2).encode('utf-8'))
    return summary


def _summary(frames, infs, times, tcs, n, wall, codec, files, run) -> Dict:
    models = {}
    for inf in infs:
        lat = latency_stats(times[inf.name])
        m = tcs.get(inf.name, {})
        models[inf.name] = dict(
            model=osp.abspath(inf.model.config), backend=inf.backend,
            precision=inf.precision,
            checkpoint=None if inf.backend == 'onnxruntime' else
            osp.abspath(inf.model.checkpoint),
            latency=lat['model'], stages=lat, model_fps=finite_or_none(
                1e3 / lat['model']['mean_ms']) if n else None,
            mTC=m.get('mTC'), mean_pair_TC=m.get('mean_pair_TC'),
            tc_classes=m.get('classes'),
            tc_curve=[finite_or_none(v) for v in m.get('curve', [])])
    src = frames.path if frames.is_live else osp.abspath(frames.path)
    return dict(source=src, backend=infs[0].backend, num_frames=n,
                codec=codec, end_to_end_fps=finite_or_none(n / wall)
                if wall > 0 else None, **run,
                tc_definition='mTC: IoU of each prediction with the next '
                "frame's prediction warped back by the estimated flow, I and U "
                'summed per class over all pairs, mean over the classes any '
                'compared model predicts (one it never predicts scores 0); '
                'mean pair TC: mean of the per-pair curve',
                outputs=files, models=models)
