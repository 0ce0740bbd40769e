r"""Per-frame video segmentation demo of one or two exported models.

    python tools/video_demo.py INPUT \
        --models CONFIG CHECKPOINT [CONFIG2 CHECKPOINT2] \
        [--names baseline ETC] [--out-dir work_dirs/video_demo] \
        [--device cpu] [--max-frames N] \
        [--flow '{"type": "DISFlow", "preset": "fast"}']

INPUT is a video file (mp4, avi, ...) or a folder of frames (png/jpg, sorted
by name). Models are plain MMSeg config + checkpoint pairs, e.g. what
`tools/export_student.py` writes. Each model segments the frames one at a
time; OUT_DIR receives

* overlay.mp4: the predictions blended over the frames, models side by side;
* tc_curve.png: temporal consistency (TC, %) of each pair of neighbouring
  frames over time, one line per model (the flow between the two frames is
  computed once with the flow estimator and shared by the models);
* latency.json: per model, latency of the model call per frame (mean,
  median, p99 in ms, after untimed warm-up calls) and the mean TC.
"""
import argparse
import json
import sys

import mmseg_temporal  # noqa: F401
from mmseg_temporal.apis import (VideoInputError, format_summary,
                                 run_video_demo)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help='video file or folder of frames')
    p.add_argument('--models', nargs='+', required=True,
                   metavar='CONFIG CHECKPOINT',
                   help='one or two models, each as a config and a '
                   'checkpoint file')
    p.add_argument('--names', nargs='+', default=None,
                   help='one name per model (default: config file names)')
    p.add_argument('--out-dir', default='work_dirs/video_demo')
    p.add_argument('--device', default='cpu')
    p.add_argument('--max-frames', type=int, default=None)
    p.add_argument('--flow', type=json.loads, default=None,
                   help='flow estimator config as JSON (default: '
                   '{"type": "DISFlow"})')
    p.add_argument('--fps', type=float, default=10.,
                   help='frame rate of overlay.mp4 for a folder input '
                   '(a video keeps its own)')
    p.add_argument('--alpha', type=float, default=0.5,
                   help='opacity of the predictions in the overlay')
    p.add_argument('--warmup', type=int, default=2,
                   help='untimed model calls on the first frame')
    p.add_argument('--pattern', default=None,
                   help="for a folder input: glob of the frame file names, "
                   "e.g. '*_img.png'")
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    if len(args.models) not in (2, 4):
        p.error('--models takes one or two CONFIG CHECKPOINT pairs, got '
                f'{len(args.models)} paths')
    args.pairs = [tuple(args.models[i:i + 2])
                  for i in range(0, len(args.models), 2)]
    if args.names is not None and len(args.names) != len(args.pairs):
        p.error(f'--names: {len(args.names)} names for '
                f'{len(args.pairs)} models')
    if args.max_frames is not None and args.max_frames < 1:
        p.error('--max-frames must be >= 1')
    if args.flow is not None and not (isinstance(args.flow, dict)
                                      and 'type' in args.flow):
        p.error('--flow must be a JSON object with a "type"')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        summary = run_video_demo(
            args.input, args.pairs, args.out_dir, names=args.names,
            device=args.device, max_frames=args.max_frames, flow=args.flow,
            fps=args.fps, alpha=args.alpha, warmup=args.warmup,
            progress=not args.no_progress, pattern=args.pattern)
    except (FileNotFoundError, VideoInputError) as e:
        sys.exit(f'error: {e}')
    print(f'{summary["num_frames"]} frames of {summary["source"]} on '
          f'{summary["device"]}, flow {json.dumps(summary["flow"])}')
    print(format_summary(summary))
    for k, v in summary['outputs'].items():
        print(f'{k}: {v}')


if __name__ == '__main__':
    main()
