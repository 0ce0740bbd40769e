r"""Per-frame video segmentation demo of one or more models.

    python tools/video_demo.py INPUT \
        --models CONFIG CHECKPOINT [CONFIG2 CHECKPOINT2 | MODEL.onnx ...] \
        [--backend pytorch|onnxruntime] [--precision fp32|bf16] \
        [--smooth ALPHA] [--codecs libx264 vp09 mp4v] \
        [--names baseline ETC] [--out-dir work_dirs/video_demo] \
        [--device cpu] [--max-frames N] [--min-height 360] \
        [--flow '{"type": "DISFlow", "preset": "fast"}'] [--no-tc]
    python tools/video_demo.py --camera 0 --max-frames 300 --models ...

INPUT is a video file, a folder of frames (png/jpg, sorted by name) or a
stream URL OpenCV reads (rtsp://, http://); --camera reads a camera. Models
are plain MMSeg config + checkpoint pairs (what tools/export_student.py
writes) or .onnx files (tools/export_onnx.py), mixed freely; names default
to the export folders. --precision bf16 runs the PyTorch models under
bfloat16 autocast (refused on a CPU without bfloat16 arithmetic); an .onnx
runs the precision it was exported in (tools/export_onnx.py --precision
int8 for an int8 model). OUT_DIR receives

* overlay.mp4: predictions over the frames, models side by side, enlarged to
  --min-height rows, class legend, frame index; codec H.264 ('libx264',
  through PyAV, plays in browsers) where PyAV is installed, else VP9 ('vp09',
  OpenCV) where OpenCV has it, else 'mp4v' (the log says which);
* tc_curve.png: temporal consistency (TC, %) of each pair of neighbouring
  frames (flow estimated once per pair, shared by the models);
* latency.json: per model, latency per stage (mean, p50, p99 ms), fps, TC.

OUT_DIR is written as a whole into a hidden sibling and replaces the old
OUT_DIR only when the run completes; a run that fails midway leaves the old
OUT_DIR as it was and its partial output in OUT_DIR.failed. An OUT_DIR
holding other files than these is refused.
"""
import argparse
import json
import sys

import mmseg_temporal  # noqa: F401
from mmseg_temporal.demo.summary import format_summary
from mmseg_temporal.demo.video_demo import run_video_demo
from mmseg_temporal.inference.frame_source import VideoInputError
from mmseg_temporal.utils.checkpoint import CheckpointError
from mmseg_temporal.utils.cpu_info import CPUFeatureError
from mmseg_temporal.visualization.video_writer import BROWSER_CODECS


def model_specs(paths):
    """``.onnx`` files alone, other paths in CONFIG CHECKPOINT pairs."""
    specs, i = [], 0
    while i < len(paths):
        if paths[i].endswith('.onnx'):
            specs.append(paths[i])
            i += 1
        elif i + 1 < len(paths) and not paths[i + 1].endswith('.onnx'):
            specs.append((paths[i], paths[i + 1]))
            i += 2
        else:
            raise ValueError(f'config {paths[i]} needs a checkpoint after it')
    return specs


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', nargs='?', help='video file, folder of frames '
                   'or stream URL')
    p.add_argument('--camera', type=int, default=None, metavar='INDEX',
                   help='read camera INDEX instead of INPUT')
    p.add_argument('--models', nargs='+', required=True,
                   metavar='CONFIG CHECKPOINT | MODEL.onnx')
    p.add_argument('--backend', choices=('pytorch', 'onnxruntime'),
                   default=None, help='default: from the model files')
    p.add_argument('--precision', choices=('fp32', 'bf16'), default=None,
                   help='precision of the PyTorch models (default fp32); '
                   '.onnx files run the precision they were exported in')
    p.add_argument('--smooth', type=float, default=0.,
                   help='EMA weight of past logits in [0, 1) (0: off)')
    p.add_argument('--names', nargs='+', default=None,
                   help='one name per model (default: export folder names)')
    p.add_argument('--out-dir', default='work_dirs/video_demo')
    p.add_argument('--device', default='cpu')
    p.add_argument('--max-frames', type=int, default=None)
    p.add_argument('--flow', type=json.loads, default=None,
                   help='flow estimator config as JSON (default: '
                   '{"type": "DISFlow"})')
    p.add_argument('--no-tc', action='store_true',
                   help='no TC curve (no flow estimation)')
    p.add_argument('--fps', type=float, default=10.,
                   help='frame rate of overlay.mp4 for a folder input')
    p.add_argument('--alpha', type=float, default=0.5,
                   help='opacity of the predictions in the overlay')
    p.add_argument('--min-height', type=int, default=360,
                   help='panels are enlarged to at least this many rows')
    p.add_argument('--codecs', nargs='+', default=None,
                   help='video codec preference (default: libx264 avc1 vp09 '
                   'mp4v; libx264 is H.264 through PyAV)')
    p.add_argument('--warmup', type=int, default=2,
                   help='untimed model calls on the first frame')
    p.add_argument('--pattern', default=None,
                   help="for a folder input: glob of the frame file names, "
                   "e.g. '*_img.png'")
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    if (args.input is None) == (args.camera is None):
        p.error('give either INPUT or --camera INDEX')
    try:
        args.specs = model_specs(args.models)
    except ValueError as e:
        p.error(f'--models: {e}')
    if args.names is not None and len(args.names) != len(args.specs):
        p.error(f'--names: {len(args.names)} names for '
                f'{len(args.specs)} models')
    if args.max_frames is not None and args.max_frames < 1:
        p.error('--max-frames must be >= 1')
    if not 0. <= args.smooth < 1.:
        p.error(f'--smooth must be in [0, 1), got {args.smooth}')
    if args.flow is not None and not (isinstance(args.flow, dict)
                                      and 'type' in args.flow):
        p.error('--flow must be a JSON object with a "type"')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    extra = {} if args.codecs is None else dict(codecs=args.codecs)
    try:
        summary = run_video_demo(
            args.input if args.camera is None else args.camera, args.specs,
            args.out_dir, names=args.names, device=args.device,
            max_frames=args.max_frames, flow=args.flow, fps=args.fps,
            alpha=args.alpha, warmup=args.warmup,
            progress=not args.no_progress, pattern=args.pattern,
            backend=args.backend, smooth=args.smooth,
            min_height=args.min_height, tc=not args.no_tc,
            precision=args.precision, **extra)
    except (FileNotFoundError, FileExistsError, NotADirectoryError,
            VideoInputError, CheckpointError, CPUFeatureError) as e:
        sys.exit(f'error: {e}')
    flow = json.dumps(summary['flow']) if summary['flow'] else 'none (--no-tc)'
    print(f'{summary["num_frames"]} frames of {summary["source"]} on '
          f'{summary["device"]}, flow {flow}, smoothing {summary["smooth"]}')
    print(format_summary(summary))
    print(f'end to end: {summary["end_to_end_fps"] or 0:.1f} fps '
          '(reading, all models, TC flow, drawing, encoding)')
    print(f'video codec: {summary["codec"]}'
          + ('' if summary['codec'] in BROWSER_CODECS
             else ' (not browser-playable: no H.264 (pip install av) or VP9 '
             'encoder here)'))
    if summary['flow']:
        print(f'TC: {summary["tc_definition"]}')
    for k, v in summary['outputs'].items():
        if v:
            print(f'{k}: {v}')


if __name__ == '__main__':
    from mmseg_temporal.utils.cli import run_tool
    run_tool(main)
