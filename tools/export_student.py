"""Export the student of a TemporalDistillSegmentor as a plain MMSeg model.

    python tools/export_student.py CONFIG CHECKPOINT OUT_DIR

Writes OUT_DIR/student.py and OUT_DIR/student.pth, which stock MMSeg
(`mmseg.apis.init_model` + `inference_model`, `tools/test.py`,
`tools/analysis_tools/benchmark.py`) uses without mmseg_temporal.

The config holds data only (of the checkpoint's dataset_meta: classes,
palette, reduce_zero_label, checked), the weights are checked strictly
against it first, and both files replace earlier ones only when written and
checked: a refused export exits 1 with one `error: ...` line and leaves
OUT_DIR as it was (docs/export.md). `--debug` shows the traceback.
"""
import argparse

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.export import export_student
from mmseg_temporal.utils.cli import run_tool


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('out_dir')
    args = p.parse_args(argv)
    cfg_path, ckpt_path = export_student(args.config, args.checkpoint, args.out_dir)
    print(f'config: {cfg_path}\ncheckpoint: {ckpt_path}')


if __name__ == '__main__':
    run_tool(main)
