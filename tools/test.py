"""Test a segmentor with MMEngine's Runner (MMSeg's tools/test.py, plus the
plugin import). Usage: python tools/test.py CONFIG CHECKPOINT [--work-dir]
[--out DIR] [--show-dir DIR] [--cfg-options k=v ...] [--launcher pytorch].

With a TemporalConsistencyMetric in the test evaluator, its per-pair TC
curve (CSV + PNG) and per-class table go to WORK_DIR/temporal_consistency.
Every weight of the model must be in CHECKPOINT: a missing, truncated or
foreign checkpoint, a config value that cannot work or data that cannot be
used (a label id outside the classes, a missing frame) ends the run with one
``error: ...`` line naming it (exit status 1; ``--debug`` or
``MMSEG_TEMPORAL_DEBUG=1`` shows the traceback).
"""
import argparse

import mmseg_temporal  # noqa: F401  (registers modules, safe checkpoint loading)
from mmseg_temporal.utils.cli import run_tool
from mmseg_temporal.utils.launch import (
    add_run_args,
    distributed_run,
    load_run_config,
    set_test_outputs,
)
from mmseg_temporal.utils.runner import CheckedLoadRunner, exit_on_checkpoint_error


def parse_args():
    parser = argparse.ArgumentParser(description='Test a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='directory to save the predictions')
    parser.add_argument('--show-dir', help='directory to save drawn results')
    add_run_args(parser)
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of a user error')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_run_config(args)
    cfg.load_from = args.checkpoint
    set_test_outputs(cfg, args.out, args.show_dir)
    with exit_on_checkpoint_error(), distributed_run():
        runner = CheckedLoadRunner.from_cfg(cfg)
        runner.checkpoint_must_fit = True
        runner.test()


if __name__ == '__main__':
    run_tool(main)
