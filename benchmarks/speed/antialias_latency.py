"""What anti-aliased downsampling costs per frame: each student plain and
``AntiAliased<backbone>`` side by side, interleaved in one run (issue 23,
item 3; docs/benchmarks.md).

    python benchmarks/speed/antialias_latency.py [--models tiny small mobilenetv2 pspnet_r18] \\
        [--size 360x480] [--repeats 30] [--threads 2] [--blur-size 3]

For each student (random weights: latency does not depend on them) three
variants run eval-mode PyTorch on the same normalised input: plain,
anti-aliased (strided convolutions evaluated densely, then blurred: the
form the studies trained) and anti-aliased with ``blur_first=True``
(strided convolutions blur their input and keep their stride), both with
``--blur-size`` taps, in an order
that rotates each round, so all see the same machine state. Prints the
median and p90 ms per variant, the ratios of the medians to plain, and one
RESULT line with the machine.
"""
import argparse
import os.path as osp
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.models.segmentors.student_config import student_model_config
from mmseg_temporal.utils.cpu_info import machine_line

from _common import emit_result

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUDENTS = {
    'tiny': 'configs/camvid_cpu/pspnet_tiny_baseline_camvid_cpu.py',
    'small': 'configs/camvid_cpu/pspnet_small_baseline_camvid_cpu.py',
    'mobilenetv2': 'configs/camvid/mobilenetv2_d8_pspnet_baseline_camvid.py',
    'pspnet_r18': 'configs/cityscapes/pspnet_r18_d8_baseline_cityscapes.py',
}


VARIANTS = {'plain': None, 'antialiased': False, 'blur_first': True}


def build(name: str, blur_first, blur_size: int = 3) -> torch.nn.Module:
    """The student ``name``: plain (``blur_first`` None) or anti-aliased in
    the given form with ``blur_size`` taps."""
    init_default_scope('mmseg')
    cfg = student_model_config(Config.fromfile(osp.join(ROOT, STUDENTS[name])))
    if blur_first is not None:
        cfg.backbone.type = 'AntiAliased' + cfg.backbone.type
        cfg.backbone.update(blur_first=blur_first, blur_size=blur_size)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def interleaved_ms(models: dict, x: torch.Tensor, repeats: int) -> dict:
    """Per-variant wall times (ms) of ``model.forward(x, mode='tensor')``,
    one warm-up call each, then ``repeats`` rounds in rotating order."""
    times = {k: [] for k in models}
    names = list(models)
    with torch.no_grad():
        for model in models.values():
            model(x, mode='tensor')
        for r in range(repeats):
            shift = r % len(names)
            for k in names[shift:] + names[:shift]:
                t0 = time.perf_counter()
                models[k](x, mode='tensor')
                times[k].append(1e3 * (time.perf_counter() - t0))
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=list(STUDENTS), choices=list(STUDENTS))
    p.add_argument('--size', default='360x480')
    p.add_argument('--repeats', type=int, default=30)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--blur-size', type=int, default=3, help='taps of the binomial blur')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    h, w = (int(v) for v in args.size.split('x'))
    x = torch.randn(1, 3, h, w)
    print(machine_line(), flush=True)
    print('| student | plain ms p50 / p90 | anti-aliased ms p50 / p90 | ratio (p50) | '
          'blur-first ms p50 / p90 | ratio (p50) |')
    print('| --- | --- | --- | --- | --- | --- |')
    rows = {}
    for name in args.models:
        models = {k: build(name, form, args.blur_size) for k, form in VARIANTS.items()}
        times = interleaved_ms(models, x, args.repeats)
        stats = {k: (float(np.median(v)), float(np.percentile(v, 90))) for k, v in times.items()}
        rows[name] = dict(stats, ratio=stats['antialiased'][0] / stats['plain'][0],
                          ratio_blur_first=stats['blur_first'][0] / stats['plain'][0])
        cells = [f'{stats[k][0]:.1f} / {stats[k][1]:.1f}' for k in VARIANTS]
        print(f'| {name} | {cells[0]} | {cells[1]} | {rows[name]["ratio"]:.2f}x | '
              f'{cells[2]} | {rows[name]["ratio_blur_first"]:.2f}x |', flush=True)
    emit_result(dict(size=args.size, repeats=args.repeats, threads=args.threads,
                     blur_size=args.blur_size,
                     machine=machine_line(), rows=rows))


if __name__ == '__main__':
    main()
