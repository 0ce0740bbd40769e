"""Per-frame latency of an exported student: PyTorch eager vs onnxruntime on
the CPU, interleaved in one run (docs/benchmarks.md, issue 14 item 5).

    python benchmarks/speed/onnx_latency.py [--models pspnet_r18 tiny] \
        [--sizes 180x240 360x480] [--repeats 60] [--threads 2]

For each student (random weights: latency does not depend on them) and
input size: export it (tools/export_student.py's export, then
:func:`mmseg_temporal.deploy.export_onnx`, static shape, parity checked), then
time the same normalised input through both, alternating which goes first
each round, so both see the same machine state. Prints mean, p50 and p99 ms
per backend, the ratio of the medians and the spread (p10-p90) of the
per-round ratios, the convolutions' GFLOPs and the rate each backend
reaches against this CPU's nominal float32 peak, and one RESULT line.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch

import mmseg_temporal  # noqa: F401
from mmseg_temporal.demo.summary import stage_stats
from mmseg_temporal.deploy.onnx_export import export_onnx
from mmseg_temporal.deploy.onnx_modules import LogitsAtInputSize
from mmseg_temporal.inference.frame_models import cpu_session_options
from mmseg_temporal.inference.model_files import init_student
from mmseg_temporal.utils.cpu_info import machine_line

from _common import emit_result, random_student

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUDENTS = {
    'pspnet_r18': 'configs/cityscapes/pspnet_r18_d8_baseline_cityscapes.py',
    'mobilenetv2': 'configs/cityscapes/mobilenetv2_d8_pspnet_baseline_cityscapes.py',
    'hrnet_w18': 'configs/cityscapes/hrnet_w18_fcn_baseline_cityscapes.py',
    'tiny': 'configs/synthetic/pspnet_tiny_baseline_synthetic.py',
}


def exported(name: str, shape, tmp: str):
    """(PyTorch module, onnxruntime session, parity row) of a student."""
    import onnxruntime as ort
    config = osp.join(ROOT, STUDENTS[name])
    cfg, ckpt = random_student(config, tmp, name)
    onnx_file = osp.join(tmp, f'{name}_{shape[0]}x{shape[1]}.onnx')
    report = export_onnx(cfg, ckpt, onnx_file, input_shape=shape)
    module = LogitsAtInputSize(init_student(cfg, ckpt)).eval()
    opts = cpu_session_options(torch.get_num_threads())  # as OnnxFrameModel
    session = ort.InferenceSession(onnx_file, opts,
                                   providers=['CPUExecutionProvider'])
    return module, session, report


def conv_gflops(module, shape) -> float:
    """GFLOPs of one call in its convolutions (2 x multiply-adds, counted
    by forward hooks): nearly all the work of these students."""
    flops = []

    def count(conv, _, out):
        k = conv.weight[0].numel()  # in_channels / groups x kh x kw
        flops.append(2. * k * out.numel())

    hooks = [m.register_forward_hook(count) for m in module.modules()
             if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        module(torch.zeros(1, 3, *shape))
    for h in hooks:
        h.remove()
    return sum(flops) / 1e9


def nominal_peak_gflops(threads: int) -> float:
    """float32 peak of ``threads`` cores from /proc/cpuinfo: cores x 2 FMA
    units x SIMD lanes (16 with AVX-512, 8 with AVX2) x 2 flops x the
    reported clock (two FMA units: AMD Zen and Intel since Haswell);
    NaN where that cannot be read."""
    try:
        with open('/proc/cpuinfo') as f:
            info = f.read()
        mhz = max(float(line.split(':')[1]) for line in info.splitlines()
                  if line.startswith('cpu MHz'))
    except (OSError, ValueError):
        return float('nan')
    lanes = 16 if 'avx512f' in info else 8 if ' fma' in info else 4
    return threads * 2 * lanes * 2 * mhz / 1e3


def interleaved(module, session, shape, repeats: int, warmup: int = 3):
    """Milliseconds per call of each backend, alternating the order."""
    x = torch.randn(1, 3, *shape)
    feed = {'input': x.numpy()}

    def eager():
        with torch.no_grad():
            module(x)

    def ort_run():
        session.run(['logits'], feed)

    for _ in range(warmup):
        eager()
        ort_run()
    times = dict(pytorch=[], onnxruntime=[])
    for i in range(repeats):
        order = [('pytorch', eager), ('onnxruntime', ort_run)]
        for key, fn in (order if i % 2 == 0 else order[::-1]):
            t0 = time.perf_counter()
            fn()
            times[key].append((time.perf_counter() - t0) * 1e3)
    return times


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--models', nargs='+', default=['pspnet_r18', 'tiny'],
                   choices=sorted(STUDENTS))
    p.add_argument('--sizes', nargs='+', default=['180x240', '360x480'])
    p.add_argument('--repeats', type=int, default=60)
    p.add_argument('--threads', type=int, default=min(2, os.cpu_count() or 1))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(machine_line(onnxruntime=__import__('onnxruntime').__version__))
    print(f'command: python benchmarks/speed/onnx_latency.py {" ".join(sys.argv[1:])}')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for size in args.sizes:
                shape = tuple(int(s) for s in size.split('x'))
                module, session, report = exported(name, shape, tmp)
                times = interleaved(module, session, shape, args.repeats)
                ratio = np.asarray(times['pytorch']) / np.asarray(
                    times['onnxruntime'])
                row = dict(model=name, size=size, parity=report['parity'][0],
                           exporter=report['exporter'],
                           **{k: stage_stats(v) for k, v in times.items()})
                row['speedup_median'] = (row['pytorch']['median_ms']
                                         / row['onnxruntime']['median_ms'])
                row['conv_gflops'] = conv_gflops(module, shape)
                row['gflop_per_s'] = {k: row['conv_gflops'] / row[k]['median_ms'] * 1e3
                                      for k in times}
                row['speedup_p10_p90'] = [float(np.percentile(ratio, 10)),
                                          float(np.percentile(ratio, 90))]
                rows.append(row)
                print_row(row)
    peak = nominal_peak_gflops(args.threads)
    print(f'nominal float32 peak of {args.threads} cores: {peak:.0f} GFLOP/s; per '
          'row: conv GFLOPs, GFLOP/s PyTorch / onnxruntime (p50), share of peak')
    for row in rows:
        g = row['gflop_per_s']
        print(f'{row["model"]} {row["size"]}: {row["conv_gflops"]:.1f} GFLOPs, '
              f'{g["pytorch"]:.0f} / {g["onnxruntime"]:.0f} GFLOP/s = '
              f'{100 * g["pytorch"] / peak:.0f} % / {100 * g["onnxruntime"] / peak:.0f} %')
    emit_result(dict(rows=rows, threads=args.threads, repeats=args.repeats,
                     nominal_peak_gflops=peak))


def print_row(row) -> None:
    def f(s):
        return (f'{s["mean_ms"]:.1f} / {s["median_ms"]:.1f} / '
                f'{s["p99_ms"]:.1f}')

    lo, hi = row['speedup_p10_p90']
    print(f'| {row["model"]} | {row["size"]} | {f(row["pytorch"])} | '
          f'{f(row["onnxruntime"])} | {row["speedup_median"]:.2f}x '
          f'({lo:.2f}-{hi:.2f}) | {row["exporter"]} | '
          f'{row["parity"]["max_abs_logit_diff"]:.1e} |', flush=True)


if __name__ == '__main__':
    main()
