"""The video demo's end-to-end frames per second against the model alone
(docs/benchmarks.md, issue 14 item 5).

    python benchmarks/demo_fps.py [--frames 101] [--threads 2]

One exported student (the tiny CamVid CPU student, random weights) on the
CamVid 15 Hz ``val`` run (101 frames, 360x480; a generated clip of that size
when the data is absent), both backends. Per setting it reports

* ``model fps``: 1000 / mean ms of the model call alone, measured inside
  the demo run;
* ``inferencer fps``: :class:`VideoInferencer` over the same frames with
  nothing drawn (reading, MMSeg's test pipeline, model, argmax);
* ``demo fps``: :func:`run_video_demo` end to end (the same, plus drawing,
  encoding on a background thread and, with TC, one DIS flow per pair),
  and its share of the model fps.
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
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.apis import (
    VideoInferencer,
    export_onnx,
    export_student,
    run_video_demo,
    student_model_config,
)

from _common import emit_result, machine_line

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
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


def models(tmp: str):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(student_model_config(Config.fromfile(CONFIG)))
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict()), osp.join(tmp, 'r.pth'))
    cfg, ckpt = export_student(CONFIG, osp.join(tmp, 'r.pth'),
                               osp.join(tmp, 'tiny_camvid'))
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


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--frames', type=int, default=101)
    p.add_argument('--threads', type=int, default=min(2, os.cpu_count() or 1))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(machine_line())
    print(f'command: python benchmarks/demo_fps.py {" ".join(sys.argv[1:])}')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = frames_folder(tmp, args.frames)
        for backend, spec in models(tmp).items():
            only = inferencer_fps(spec, folder, args.frames)
            for tc, codecs in ((True, None), (False, None),
                               (False, ('mp4v', ))):
                extra = {} if codecs is None else dict(codecs=codecs)
                s = run_video_demo(folder, [spec], osp.join(tmp, 'demo'),
                                   max_frames=args.frames, progress=False,
                                   tc=tc, **extra)
                (m, ) = s['models'].values()
                row = dict(backend=backend, tc=tc, codec=s['codec'],
                           model_fps=m['model_fps'], inferencer_fps=only,
                           demo_fps=s['end_to_end_fps'],
                           share=s['end_to_end_fps'] / m['model_fps'])
                rows.append(row)
                print(f'| {backend} | {"DIS" if tc else "off"} | '
                      f'{row["codec"]} | {row["model_fps"]:.1f} | '
                      f'{only:.1f} | {row["demo_fps"]:.1f} | '
                      f'{100 * row["share"]:.0f}% |', flush=True)
    emit_result(dict(rows=rows, frames=args.frames, threads=args.threads))


if __name__ == '__main__':
    main()
