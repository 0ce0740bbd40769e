"""Test a segmentor with MMEngine's Runner (MMSeg's tools/test.py, plus the
plugin import). Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir]
[--out DIR] [--show-dir DIR] [--cfg-options k=v ...] [--launcher pytorch].

With a TemporalConsistencyMetric in the test evaluator, its per-pair TC
curve (CSV + PNG) and per-class table go to WORK_DIR/temporal_consistency.
"""
import argparse
import os.path as osp

import mmseg_temporal  # noqa: F401  (registers modules, safe checkpoint loading)
from mmseg_temporal.utils.launch import add_run_args, distributed_run, load_run_config
from mmseg_temporal.utils.runner import CheckedLoadRunner, exit_on_checkpoint_error


def parse_args():
    parser = argparse.ArgumentParser(description='Test a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='directory to save the predictions')
    parser.add_argument('--show-dir', help='directory to save drawn results')
    add_run_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_run_config(args)
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
            ev.setdefault('output_dir',
                          osp.join(cfg.work_dir, 'temporal_consistency'))
        elif args.out is not None:
            ev['output_dir'] = args.out
            ev['keep_results'] = True
    with exit_on_checkpoint_error(), distributed_run():
        runner = CheckedLoadRunner.from_cfg(cfg)
        runner.checkpoint_must_fit = True
        runner.test()


if __name__ == '__main__':
    main()
