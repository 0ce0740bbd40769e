"""Per-frame latency of plain EMA against motion-compensated EMA (issue 23,
item 4), side by side in one run.

    python benchmarks/speed/smoothing_latency.py [--frames 101] [--alpha 0.5] \
        [--presets ultrafast fast] [--threads 2] [--config CONFIG]

One exported student (``--config``, default the tiny CamVid CPU student;
random weights: latency does not depend on them) in one
:class:`VideoInferencer` per arm: ``smooth=alpha`` alone (plain EMA) and
with ``motion=dict(type='DISFlow', preset=P)`` for each preset. The frames
are the CamVid 15 Hz ``val`` run (360x480, consecutive; a generated clip of
that size when the data is absent), decoded first. Frame by frame, every
arm segments the same frame, in an order that rotates each frame, so all
arms see the same machine state; each arm keeps its own smoothing state
over the run. Per arm it prints the median ms per frame of ``total``
(pipeline + model + flow + smoothing and argmax), of ``flow`` (the DIS call
and resizing it to the logits) and of ``post`` (the warp, the blend and
argmax), the ratio of the medians of ``total`` against plain EMA, and one
RESULT line. The first ``--warmup`` frames are not counted.
"""
import argparse
import glob
import os
import os.path as osp
import sys
import tempfile

import cv2
import numpy as np
import torch

import mmseg_temporal  # noqa: F401
from mmseg_temporal.experiments.steps import interleaved_frame_timings
from mmseg_temporal.inference.inferencer import VideoInferencer
from mmseg_temporal.utils.cpu_info import machine_line

from _common import emit_result, random_student

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/camvid_cpu/pspnet_tiny_baseline_camvid_cpu.py')
CAMVID_VAL = osp.join(ROOT, '..', 'shared', 'data', 'camvid', 'val')
SIZE = (360, 480)


def frames(tmp: str, num: int):
    """``(paths, BGR frames)``: the CamVid val run, or a generated clip (a
    box moving 3 px a frame), at 360x480."""
    files = sorted(glob.glob(osp.join(CAMVID_VAL, '0016E5_*.png')))[:num]
    if len(files) < num:
        files = []
        for t in range(num):
            img = np.full(SIZE + (3, ), 90, np.uint8)
            cv2.rectangle(img, (20 + 3 * t, 150), (140 + 3 * t, 260),
                          (0, 200, 255), -1)
            files.append(osp.join(tmp, f'{t:04d}.png'))
            cv2.imwrite(files[-1], img)
    imgs = [cv2.imread(f, cv2.IMREAD_COLOR) for f in files]
    imgs = [im if im.shape[:2] == SIZE else
            cv2.resize(im, SIZE[::-1], interpolation=cv2.INTER_AREA)
            for im in imgs]
    return files, imgs


def exported(tmp: str, config: str):
    """(config, checkpoint) of the student with random weights."""
    return random_student(config, tmp)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--frames', type=int, default=101)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--alpha', type=float, default=0.5)
    p.add_argument('--presets', nargs='+', default=['ultrafast', 'fast'])
    p.add_argument('--threads', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--config', default=CONFIG)
    args = p.parse_args(argv)
    if args.frames <= args.warmup:
        p.error(f'--frames {args.frames} must exceed --warmup {args.warmup}')
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(machine_line())
    print(f'command: python benchmarks/speed/smoothing_latency.py {" ".join(sys.argv[1:])}')
    with tempfile.TemporaryDirectory() as tmp:
        cfg, ckpt = exported(tmp, args.config)
        files, imgs = frames(tmp, args.frames)
        arms = {'plain EMA': VideoInferencer(cfg, ckpt, smooth=args.alpha)}
        for preset in args.presets:
            arms[f'EMA + DIS {preset}'] = VideoInferencer(
                cfg, ckpt, smooth=args.alpha,
                motion=dict(type='DISFlow', preset=preset))
        timings = interleaved_frame_timings(arms, imgs, files, warmup=args.warmup)
    rows = []
    base = float(np.median([t['total'] for t in timings['plain EMA']]))
    print(f'{len(imgs) - args.warmup} frames at {SIZE[0]}x{SIZE[1]}, '
          f'alpha {args.alpha}, median ms per frame')
    print('| arm | total | model | flow | post | total / plain |')
    print('| --- | --- | --- | --- | --- | --- |')
    for name, ts in timings.items():
        row = {k: float(np.median([t[k] for t in ts]))
               for k in ('total', 'prep', 'model', 'flow', 'post')}
        row.update(arm=name, ratio=row['total'] / base)
        rows.append(row)
        print(f'| {name} | {row["total"]:.1f} | {row["model"]:.1f} | '
              f'{row["flow"]:.1f} | {row["post"]:.1f} | {row["ratio"]:.2f}x |',
              flush=True)
    emit_result(dict(rows=rows, frames=len(imgs) - args.warmup,
                     size=list(SIZE), alpha=args.alpha, threads=args.threads,
                     config=osp.relpath(args.config, ROOT)))


if __name__ == '__main__':
    main()
