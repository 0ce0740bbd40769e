"""Resumable experiment steps on top of the project's checked Runner
(:class:`~mmseg_temporal.utils.runner.CheckedLoadRunner`: a checkpoint that
does not fit the model is one error line, never a partial load with a
warning): train unless the final checkpoint exists (resuming a killed run),
test a checkpoint (every weight of the model must be in it).

Used by ``tools/quickstart.py`` and the studies in ``benchmarks/``.
"""
import copy
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

from ..utils.runner import CheckedLoadRunner

__all__ = ['train_unless_done', 'test_checkpoint', 'interleaved_frame_timings',
           'median_and_spread']


def train_unless_done(cfg: Config) -> str:
    """Trains ``cfg`` into ``cfg.work_dir`` unless its final checkpoint
    (``iter_<max_iters>.pth``) is there; a run killed midway resumes from
    its last checkpoint. Returns the final checkpoint's path.

    A fine-tune (``cfg.load_from`` set: its starting weights) that was
    killed resumes from its own last checkpoint, not from ``load_from``:
    MMEngine's Runner resumes from ``load_from`` whenever both are set,
    which would restart from the starting weights with their iteration
    count and optimiser state."""
    ckpt = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if osp.exists(ckpt):
        print(f'[experiment] {ckpt} exists: not training again')
        return ckpt
    cfg = copy.deepcopy(cfg)
    cfg.resume = osp.exists(osp.join(cfg.work_dir, 'last_checkpoint'))
    if cfg.resume:
        cfg.load_from = None  # the Runner then finds work_dir's latest
    CheckedLoadRunner.from_cfg(cfg).train()
    return ckpt


def test_checkpoint(cfg: Config, ckpt: str, sub_dir: str = 'test',
                    with_tc_result: bool = False):
    """Runs the config's test loop on ``ckpt`` (work dir ``<work_dir>/
    <sub_dir>``; a temporal-consistency metric writes its curve there) and
    returns the metrics; with ``with_tc_result`` also the
    ``TemporalConsistencyMetric``'s ``last_result`` (per-class TC, the
    class set, the predicted classes; None without that metric)."""
    cfg = copy.deepcopy(cfg)
    cfg.load_from = ckpt
    cfg.resume = False
    cfg.work_dir = osp.join(cfg.work_dir, sub_dir)
    cfg.experiment_name = f'{sub_dir}_{osp.basename(osp.dirname(cfg.work_dir))}_{int(time.time())}'
    evaluators = cfg.test_evaluator if isinstance(
        cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
    for ev in evaluators:
        if ev['type'] == 'TemporalConsistencyMetric':
            ev['output_dir'] = osp.join(cfg.work_dir, 'temporal_consistency')
    runner = CheckedLoadRunner.from_cfg(cfg)
    runner.checkpoint_must_fit = True
    metrics = runner.test()
    if not with_tc_result:
        return metrics
    tc = [m for m in runner.test_evaluator.metrics
          if type(m).__name__ == 'TemporalConsistencyMetric']
    return metrics, (getattr(tc[0], 'last_result', None) if tc else None)


def interleaved_frame_timings(inferencers: Dict[str, object],
                              frames: Sequence[np.ndarray],
                              paths: Optional[Sequence[str]] = None,
                              warmup: int = 3, rounds: int = 1) -> Dict[str, List[dict]]:
    """Per-frame timings of several :class:`~mmseg_temporal.inference.
    inferencer.VideoInferencer` s on the same video, interleaved.

    Frame by frame, every inferencer segments the same frame (its
    ``predict``, with the frame's file from ``paths`` for a motion source),
    in an order that rotates each frame, so load that comes and goes hits
    all alike; each keeps its own smoothing state over the video (reset at
    each of the ``rounds`` passes). Returns per inferencer the timing dicts
    (ms: ``prep``, ``model``, ``flow``, ``post``, ``total``) of the counted
    frames: all but the first ``warmup`` of the first pass."""
    paths = list(paths) if paths is not None else [None] * len(frames)
    if len(paths) != len(frames):
        raise ValueError(f'{len(frames)} frames but {len(paths)} paths')
    if warmup >= len(frames) * rounds:
        raise ValueError(f'{len(frames)} frames, warmup {warmup}, rounds {rounds}: '
                         'nothing to count')
    timings: Dict[str, List[dict]] = {name: [] for name in inferencers}
    names, counter = list(inferencers), 0
    for _ in range(rounds):
        for inferencer in inferencers.values():
            inferencer.reset()
        for index, (frame, path) in enumerate(zip(frames, paths)):
            first = counter % len(names)
            for name in names[first:] + names[:first]:
                pred = inferencers[name].predict(frame, index, path=path)
                if counter >= warmup:
                    timings[name].append(pred.timing)
            counter += 1
    return timings


def median_and_spread(values: Sequence[float]) -> Dict[str, float]:
    """``median``, ``p10`` and ``p90`` of ``values`` (ms; NumPy's linear
    interpolation, as the benchmarks report them)."""
    p10, median, p90 = np.percentile(np.asarray(values, dtype=float), (10, 50, 90))
    return dict(median=float(median), p10=float(p10), p90=float(p90))
