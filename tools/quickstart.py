"""The README's main job: train on the embedded synthetic video, evaluate,
print a table.

Runs on the CPU in a few minutes with no data and no weights: the synthetic
video is rendered into ``--data-root`` on first use. Outputs go to
``--work-dir``.
"""
import argparse
import os.path as osp
import time

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmseg_temporal  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--work-dir', default='work_dirs/quickstart')
    p.add_argument('--data-root', default='data/synthetic_video')
    p.add_argument('--iters', type=int, default=600,
                   help='training iterations of each model')
    return p.parse_args()


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def cpu_ms_per_frame(model: torch.nn.Module, hw=(96, 128), n: int = 20) -> float:
    model.eval()
    x = torch.randn(1, 3, *hw)
    with torch.no_grad():
        for _ in range(3):
            model._forward(x)
        t = time.perf_counter()
        for _ in range(n):
            model._forward(x)
    return (time.perf_counter() - t) / n * 1000


def train_and_test(config: str, work_dir: str, data_root: str, iters: int):
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = work_dir
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    return runner, metrics


def main():
    args = parse_args()
    rows = []
    t0 = time.time()
    name = 'baseline (CE only)'
    runner, metrics = train_and_test(
        'configs/synthetic/pspnet_tiny_baseline_synthetic.py',
        osp.join(args.work_dir, 'baseline'), args.data_root, args.iters)
    model = runner.model
    rows.append((name, count_params(model), metrics.get('mIoU', float('nan')),
                 cpu_ms_per_frame(model)))
    print('\n' + '=' * 72)
    print(f'{"model":<24}{"params":>12}{"mIoU (val)":>14}{"CPU ms/frame":>16}')
    for r in rows:
        print(f'{r[0]:<24}{r[1]:>12,}{r[2]:>14.2f}{r[3]:>16.1f}')
    print('=' * 72)
    print(f'work dir: {osp.abspath(args.work_dir)}  (checkpoints, logs)')
    print(f'data: {osp.abspath(args.data_root)}  (rendered synthetic video)')
    print(f'total time: {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
