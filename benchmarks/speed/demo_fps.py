"""The video demo's end-to-end frames per second against the model alone
(docs/benchmarks.md, issue 14 item 5).

    python benchmarks/speed/demo_fps.py [--frames 101] [--threads 2] \
        [--config CONFIG] [--backends pytorch onnxruntime] \
        [--settings dis-h264 off-h264 dis-vp09 off-vp09 off-mp4v]

One exported student (``--config``, default the tiny CamVid CPU student;
random weights) on the
CamVid 15 Hz ``val`` run (101 frames, 360x480; a generated clip of that size
when the data is absent), both backends. Per setting it reports

* ``model fps``: 1000 / mean ms of the model call alone, measured inside
  the demo run (where the reader and drawing threads share the cores);
* ``model fps alone``: the same over the same frames, already decoded,
  with nothing else running (the strict yardstick);
* ``inferencer fps``: :class:`VideoInferencer` over the same frames with
  nothing drawn (reading, MMSeg's test pipeline, model, argmax);
* ``demo fps``: :func:`run_video_demo` end to end (the same, plus drawing,
  reading ahead and drawing + encoding on background threads and, with
  TC, one DIS flow per pair), and its share of each model fps.
"""
import argparse
import glob
import os
import os.path as osp
import sys
import tempfile
import time

import cv2
import numpy as np
import torch

import mmseg_temporal  # noqa: F401
from mmseg_temporal.demo.video_demo import run_video_demo
from mmseg_temporal.deploy.onnx_export import export_onnx
from mmseg_temporal.inference.frame_models import build_frame_model
from mmseg_temporal.inference.frame_source import FrameSource
from mmseg_temporal.inference.inferencer import VideoInferencer
from mmseg_temporal.utils.cpu_info import machine_line

from _common import emit_result, random_student

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/camvid_cpu/pspnet_tiny_baseline_camvid_cpu.py')
CAMVID_VAL = osp.join(ROOT, '..', 'shared', 'data', 'camvid', 'val')


def frames_folder(tmp: str, num: int) -> str:
    """The CamVid val frames, or a generated 360x480 clip."""
    files = sorted(glob.glob(osp.join(CAMVID_VAL, '0016E5_*.png')))[:num]
    if len(files) == num:
        return CAMVID_VAL
    out = osp.join(tmp, 'clip')
    os.makedirs(out)
    for t in range(num):
        img = np.full((360, 480, 3), 90, np.uint8)
        cv2.rectangle(img, (20 + 3 * t, 150), (140 + 3 * t, 260),
                      (0, 200, 255), -1)
        cv2.imwrite(osp.join(out, f'{t:04d}.png'), img)
    return out


SETTINGS = {'dis-h264': (True, ('libx264', )), 'off-h264': (False, ('libx264', )),
            'dis-vp09': (True, ('vp09', )), 'off-vp09': (False, ('vp09', )),
            'off-mp4v': (False, ('mp4v', ))}


def models(tmp: str, config: str = CONFIG):
    cfg, ckpt = random_student(config, tmp, 'tiny_camvid')
    onnx_file = osp.join(tmp, 'tiny_camvid.onnx')
    export_onnx(cfg, ckpt, onnx_file)
    return dict(pytorch=(cfg, ckpt), onnxruntime=onnx_file)


def inferencer_fps(spec, folder: str, num: int) -> float:
    model, weights = (spec, None) if isinstance(spec, str) else spec
    inferencer = VideoInferencer(model, weights)
    t0, n = None, 0
    for pred in inferencer(folder, max_frames=num, warmup=2):
        if t0 is None:
            t0 = time.perf_counter()  # from the first frame on, as the demo
        n += 1
    return n / (time.perf_counter() - t0)


def model_alone_fps(spec, folder: str, num: int) -> float:
    """1000 / mean ms of the model call on the frames, decoded first."""
    model, weights = (spec, None) if isinstance(spec, str) else spec
    frame_model = build_frame_model(model, weights)
    frames = list(FrameSource(folder, max_frames=num))
    for _ in range(2):
        frame_model.logits(frames[0])
    ms = [frame_model.logits(f)[1]['model_ms'] for f in frames]
    return 1e3 / float(np.mean(ms))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--frames', type=int, default=101)
    p.add_argument('--threads', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--backends', nargs='+', default=['pytorch', 'onnxruntime'])
    p.add_argument('--settings', nargs='+', default=list(SETTINGS),
                   choices=list(SETTINGS))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(machine_line())
    print(f'command: python benchmarks/speed/demo_fps.py {" ".join(sys.argv[1:])}')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = frames_folder(tmp, args.frames)
        for backend, spec in models(tmp, args.config).items():
            if backend not in args.backends:
                continue
            only = inferencer_fps(spec, folder, args.frames)
            alone = model_alone_fps(spec, folder, args.frames)
            for tc, codecs in (SETTINGS[k] for k in args.settings):
                extra = {} if codecs is None else dict(codecs=codecs)
                s = run_video_demo(folder, [spec], osp.join(tmp, 'demo'),
                                   max_frames=args.frames, progress=False,
                                   tc=tc, **extra)
                (m, ) = s['models'].values()
                row = dict(backend=backend, tc=tc, codec=s['codec'],
                           model_fps=m['model_fps'], inferencer_fps=only,
                           model_fps_alone=alone, demo_fps=s['end_to_end_fps'],
                           share=s['end_to_end_fps'] / m['model_fps'],
                           share_alone=s['end_to_end_fps'] / alone)
                rows.append(row)
                print(f'| {backend} | {"DIS" if tc else "off"} | '
                      f'{row["codec"]} | {row["model_fps"]:.1f} | '
                      f'{alone:.1f} | {only:.1f} | {row["demo_fps"]:.1f} | '
                      f'{100 * row["share"]:.0f}% | '
                      f'{100 * row["share_alone"]:.0f}% |', flush=True)
    emit_result(dict(rows=rows, frames=args.frames, threads=args.threads,
                     config=osp.relpath(args.config, ROOT)))


if __name__ == '__main__':
    main()
