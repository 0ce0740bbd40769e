r"""Export a student (or any plain MMSeg segmentor) to ONNX, checked against
PyTorch in onnxruntime.

    python tools/export_onnx.py CONFIG CHECKPOINT OUT.onnx \
        [--shape H W] [--dynamic] [--output logits|labels] \
        [--exporter auto|torchscript|dynamo] [--atol 1e-4] \
        [--precision fp32|int8|bf16 --calibration VIDEO|FOLDER \
         [--calib-frames 32] [--heldout VIDEO|FOLDER] [--heldout-frames 16] \
         [--min-quant-agreement 0.99]]

CONFIG/CHECKPOINT: what tools/export_student.py writes (student.py +
student.pth), a plain MMSeg config, or an ETC training config (its student is
exported). The graph's input is the normalised image (N, 3, H, W); its output
the logits at the input resolution (or the class ids with --output labels);
normalisation, input size, classes and test pipeline are in its metadata.
The export always runs the file in onnxruntime on a sample input, prints the
max abs logit difference and the argmax agreement, and exits non-zero past
the tolerance. See docs/export.md for the combinations that work.

--precision int8 quantises the checked float32 graph with onnxruntime's static
quantisation (QDQ, per-channel int8 weights, uint8 activations), calibrated on
--calib-frames frames of --calibration (a video, a folder of frames or a
dataset split's image folder, read like the video demo reads them), and checks
it on held-out frames (other frames of the same source, or of --heldout): below
--min-quant-agreement argmax agreement with the float32 model it exits 1 with
the figures and leaves an earlier OUT.onnx as it was. The calibration set is
recorded in the metadata. --precision bf16 is refused with the reason:
onnxruntime's CPU provider has no bfloat16 convolution (the PyTorch path runs
bf16: tools/video_demo.py --precision bf16).
"""
import argparse
import json
import sys

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.onnx_export import OnnxParityError, export_onnx
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
                   help='min argmax agreement allowed (fraction) of the '
                   'float32 graph')
    p.add_argument('--precision', choices=('fp32', 'int8', 'bf16'),
                   default='fp32')
    q = p.add_argument_group('int8 calibration')
    q.add_argument('--calibration', metavar='VIDEO|FOLDER',
                   help='frames to calibrate on (video file, folder of '
                   "frames, a dataset split's image folder)")
    q.add_argument('--calib-frames', type=int, default=32)
    q.add_argument('--heldout', metavar='VIDEO|FOLDER', default=None,
                   help='frames for the agreement check (default: other '
                   'frames of --calibration)')
    q.add_argument('--heldout-frames', type=int, default=16)
    q.add_argument('--pattern', default=None,
                   help="glob of frame file names in the folders, e.g. "
                   "'*_img.png'")
    q.add_argument('--calib-method', choices=('minmax', 'entropy',
                                              'percentile'),
                   default='minmax')
    q.add_argument('--per-tensor', action='store_true',
                   help='one weight scale per tensor (default: per channel)')
    q.add_argument('--reduce-range', action='store_true',
                   help='7-bit weights (for CPUs without VNNI if the '
                   'agreement is low)')
    q.add_argument('--min-quant-agreement', type=float, default=0.99,
                   help='min argmax agreement (fraction) of the int8 graph '
                   'with the float32 model on the held-out frames')
    args = p.parse_args(argv)
    if args.precision != 'int8' and args.calibration:
        p.error('--calibration is for --precision int8')
    return args


def calibration_of(args):
    """The ``calibration`` dict of :func:`export_onnx` (``None`` unless
    int8)."""
    if args.precision != 'int8':
        return None
    return dict(source=args.calibration, num_frames=args.calib_frames,
                heldout=args.heldout, heldout_frames=args.heldout_frames,
                pattern=args.pattern, method=args.calib_method,
                per_channel=not args.per_tensor,
                reduce_range=args.reduce_range)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        report = export_onnx(
            args.config, args.checkpoint, args.out_file,
            input_shape=args.shape, dynamic=args.dynamic, output=args.output,
            exporter=args.exporter, opset=args.opset, atol=args.atol,
            min_agreement=args.min_agreement, precision=args.precision,
            calibration=calibration_of(args),
            min_quant_agreement=args.min_quant_agreement)
    except (FileNotFoundError, CheckpointError, OnnxParityError,
            ValueError) as e:
        sys.exit(f'error: {e}')
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    from mmseg_temporal.utils.cli import run_tool
    run_tool(main)
