"""Resumable experiment steps on top of MMEngine's Runner: train unless the
final checkpoint exists (resuming a killed run), test a checkpoint.

Used by ``tools/quickstart.py`` and ``benchmarks/camvid_study.py``.
"""
import copy
import os.path as osp
import time
from typing import Dict, Tuple

import torch
from mmengine.config import Config
from mmengine.runner import Runner

__all__ = ['train_unless_done', 'test_checkpoint', 'cpu_ms_per_frame']


def train_unless_done(cfg: Config) -> str:
    """Trains ``cfg`` into ``cfg.work_dir`` unless its final checkpoint
    (``iter_<max_iters>.pth``) is there; a run killed midway resumes from
    its last checkpoint. Returns the final checkpoint's path."""
    ckpt = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if osp.exists(ckpt):
        print(f'[experiment] {ckpt} exists: not training again')
        return ckpt
    cfg = copy.deepcopy(cfg)
    cfg.resume = osp.exists(osp.join(cfg.work_dir, 'last_checkpoint'))
    Runner.from_cfg(cfg).train()
    return ckpt


def test_checkpoint(cfg: Config, ckpt: str, sub_dir: str = 'test') -> Dict:
    """Runs the config's test loop on ``ckpt`` (work dir ``<work_dir>/
    <sub_dir>``; a temporal-consistency metric writes its curve there) and
    returns the metrics."""
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
    return Runner.from_cfg(cfg).test()


def cpu_ms_per_frame(model: torch.nn.Module, hw: Tuple[int, int],
                     n: int = 30, warmup: int = 3) -> float:
    """Median CPU latency (ms) of ``model._forward`` on one ``hw`` frame."""
    model = model.cpu().eval()
    x = torch.randn(1, 3, *hw)
    times = []
    with torch.no_grad():
        for i in range(warmup + n):
            t = time.perf_counter()
            model._forward(x)
            if i >= warmup:
                times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1000
