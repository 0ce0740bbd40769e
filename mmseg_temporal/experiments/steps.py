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
from typing import Dict, Tuple

import torch
from mmengine.config import Config

from ..utils.runner import CheckedLoadRunner

__all__ = ['train_unless_done', 'test_checkpoint', 'interleaved_ms_per_frame']


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


def interleaved_ms_per_frame(models: Dict[str, torch.nn.Module],
                             hw: Tuple[int, int], rounds: int = 50,
                             warmup: int = 3) -> Dict[str, Dict[str, float]]:
    """CPU latency (ms) of each model's ``_forward`` on one ``hw`` frame,
    measured interleaved: every round times each model once, in turn, so
    load that comes and goes on the machine hits all models alike and
    equal architectures read equal. Returns per model the ``median`` and
    the ``p10`` / ``p90`` of the ``rounds`` timings."""
    models = {k: m.cpu().eval() for k, m in models.items()}
    x = torch.randn(1, 3, *hw)
    times: Dict[str, list] = {k: [] for k in models}
    with torch.no_grad():
        for r in range(warmup + rounds):
            for name, model in models.items():
                t = time.perf_counter()
                model._forward(x)
                if r >= warmup:
                    times[name].append((time.perf_counter() - t) * 1000)
    out = {}
    for name, ts in times.items():
        ts.sort()
        out[name] = dict(median=ts[len(ts) // 2], p10=ts[len(ts) // 10],
                         p90=ts[(9 * len(ts)) // 10])
    return out

