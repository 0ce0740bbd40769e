"""Train a segmentor with MMEngine's Runner (MMSeg's tools/train.py, plus
the plugin import). Usage: python tools/train.py CONFIG [--work-dir DIR]
[--resume] [--amp] [--cfg-options k=v ...] [--launcher pytorch].

A checkpoint that cannot be resumed from (missing, truncated, of another
model), a config value that cannot work or data that cannot be used ends the
run with one ``error: ...`` line naming it (exit status 1; ``--debug`` or
``MMSEG_TEMPORAL_DEBUG=1`` shows the traceback)."""
import argparse

import mmseg_temporal  # noqa: F401  (registers modules, safe checkpoint loading)
from mmseg_temporal.utils.cli import run_tool
from mmseg_temporal.utils.launch import add_run_args, distributed_run, enable_amp, load_run_config
from mmseg_temporal.utils.runner import CheckedLoadRunner, exit_on_checkpoint_error


def parse_args():
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', action='store_true', default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training')
    add_run_args(parser)
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of a user error')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_run_config(args)
    if args.amp:
        enable_amp(cfg)
    cfg.resume = args.resume
    with exit_on_checkpoint_error(), distributed_run():
        CheckedLoadRunner.from_cfg(cfg).train()


if __name__ == '__main__':
    run_tool(main)
