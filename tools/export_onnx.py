r"""Export a student (or any plain MMSeg segmentor) to ONNX, checked against
PyTorch in onnxruntime.

    python tools/export_onnx.py CONFIG CHECKPOINT OUT.onnx \
        [--shape H W] [--dynamic] [--output logits|labels] \
        [--exporter auto|torchscript|dynamo] [--atol 1e-4]

CONFIG/CHECKPOINT: what tools/export_student.py writes (student.py +
student.pth), a plain MMSeg config, or an ETC training config (its student is
exported). The graph's input is the normalised image (N, 3, H, W); its output
the logits at the input resolution (or the class ids with --output labels);
normalisation, input size, classes and test pipeline are in its metadata.
The export always runs the file in onnxruntime on a sample input, prints the
max abs logit difference and the argmax agreement, and exits non-zero past
the tolerance. See docs/export.md for the combinations that work.
"""
import argparse
import json
import sys

import mmseg_temporal  # noqa: F401
from mmseg_temporal.apis import OnnxParityError, export_onnx
from mmseg_temporal.utils.checkpoint import CheckpointError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('out_file', help='the .onnx to write')
    p.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                   default=None, help='input size (default: the test '
                   "pipeline's resize)")
    p.add_argument('--dynamic', action='store_true',
                   help='dynamic batch, height and width')
    p.add_argument('--output', choices=('logits', 'labels'), default='logits')
    p.add_argument('--exporter', choices=('auto', 'torchscript', 'dynamo'),
                   default='auto')
    p.add_argument('--opset', type=int, default=None)
    p.add_argument('--atol', type=float, default=1e-4,
                   help='max abs logit difference allowed')
    p.add_argument('--min-agreement', type=float, default=0.999,
                   help='min argmax agreement allowed (fraction)')
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        report = export_onnx(
            args.config, args.checkpoint, args.out_file,
            input_shape=args.shape, dynamic=args.dynamic, output=args.output,
            exporter=args.exporter, opset=args.opset, atol=args.atol,
            min_agreement=args.min_agreement)
    except (FileNotFoundError, CheckpointError, OnnxParityError,
            ValueError) as e:
        sys.exit(f'error: {e}')
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    from mmseg_temporal.utils.cli import run_tool
    run_tool(main)
