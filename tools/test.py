"""Test a segmentor with MMEngine's Runner (MMSeg's tools/test.py, plus the
plugin import). Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir]
[--out DIR] [--show-dir DIR] [--cfg-options k=v ...] [--launcher pytorch]."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmseg_temporal  # noqa: F401  (registers modules, safe checkpoint loading)
from mmseg_temporal.utils.launch import prepare_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Test a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for logs and metrics')
    parser.add_argument('--out', help='directory to save the predictions')
    parser.add_argument('--show-dir', help='directory to save drawn results')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value (xxx=yyy)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    prepare_cpu_distributed(cfg, args.launcher)  # no-op with GPUs
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show_dir:
        vis = cfg.default_hooks.visualization
        vis['draw'] = True
        vis['interval'] = 1
        vis['show'] = False
        cfg.visualizer['save_dir'] = args.show_dir
    evaluators = cfg.test_evaluator if isinstance(
        cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
    for ev in evaluators:
        if ev.get('type') == 'TemporalConsistencyMetric':
            # per-pair TC curve (CSV + PNG) and per-class table files
            ev.setdefault('output_dir', osp.join(cfg.work_dir, 'temporal_consistency'))
        elif args.out is not None:
            ev['output_dir'] = args.out
            ev['keep_results'] = True
    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
