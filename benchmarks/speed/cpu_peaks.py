"""The CPU's attainable GFLOP/s per precision, measured, with the kernels
that ran (issue 21, item 1; docs/benchmarks.md "Measured CPU peaks").

    python benchmarks/speed/cpu_peaks.py [--threads N] [--repeats 10]
        [--out peaks.json] [--quick]

Reports the CPU model and ISA flags (``mmseg_temporal.utils.cpu_info``:
AVX2, FMA, AVX-512F, AVX512_VNNI, AVX512_BF16, AMX_BF16, AMX_INT8) and, for
two operations, ``gemm`` (a square matrix product ``n x n @ n x n``, n =
2048; quick 256) and ``conv3x3`` (64 -> 64 channels, padding 1, batch 8 at
90x120; quick: batch 1 at 24x32; channels-last, the layout oneDNN's
convolutions run in: NCHW inputs add a reorder per call), the best of
``--repeats`` timed calls after 2 warm-up calls (quick: 1 and 2) in each
available way: PyTorch float32, bfloat16 under
``torch.autocast('cpu', dtype=torch.bfloat16)`` on float32 tensors (the
casts counted), native bfloat16 tensors, int8 (``torch._int_mm``; a
quantized ``Conv2d`` of ``torch.ao`` with the default quantized engine)
and onnxruntime float32 (``MatMul``, ``Conv``) and int8
(``MatMulInteger``, ``QLinearConv``; models built with ``onnx.helper``).
Rates are ``2 x multiply-adds / best time`` (GOP/s for int8).

Kernels: one child process runs every PyTorch case once with
``ONEDNN_VERBOSE=1`` and the oneDNN implementation of each
(``brg_conv_fwd:avx10_1_512_amx``, ``jit:avx512_core`` ...) is read from
its output; a case with no oneDNN line ran elsewhere (MKL's sgemm for
float32 ``mm``, fbgemm, ATen). onnxruntime's CPU provider runs MLAS, which
names no kernel. Prints one table; ``--out`` saves the figures as JSON.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import warnings

import torch
import torch.nn.functional as F

from mmseg_temporal.utils.atomic import atomic_write_text
from mmseg_temporal.utils.cpu_info import cpu_flags, cpu_model, isa_summary, native_bf16

from _common import time_calls
from _ort_peak_cases import ort_cases

SIZES = dict(full=dict(gemm=2048, conv=(8, 64, 90, 120)),
             quick=dict(gemm=256, conv=(1, 64, 24, 32)))
PROBE_TAG = 'PROBE '


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--threads', type=int, default=os.cpu_count() or 1,
                   help='PyTorch and onnxruntime threads (default: all cores)')
    p.add_argument('--repeats', type=int, default=None,
                   help='timed calls per case, best kept (default 10; quick 2)')
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes, seconds in all (for the tests)')
    p.add_argument('--out', help='save the figures as JSON here')
    p.add_argument('--no-kernels', action='store_true',
                   help='skip the ONEDNN_VERBOSE child that names the kernels')
    p.add_argument('--probe', action='store_true', help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ----------------------------------------------------------------------
# Cases: (op, framework, precision) -> a zero-argument callable
# ----------------------------------------------------------------------
def _conv_weight(c: int) -> torch.Tensor:
    return torch.randn(c, c, 3, 3).to(memory_format=torch.channels_last)


def _torch_float_cases(size: dict) -> dict:
    n = size['gemm']
    a, b = torch.randn(n, n), torch.randn(n, n)
    x = torch.randn(*size['conv']).to(memory_format=torch.channels_last)
    w = _conv_weight(size['conv'][1])
    ab, bb, xb, wb = (t.bfloat16() for t in (a, b, x, w))

    def autocast(fn):
        def run():
            with torch.autocast('cpu', dtype=torch.bfloat16):
                return fn()
        return run
    return {
        ('gemm', 'torch', 'fp32'): lambda: a @ b,
        ('conv3x3', 'torch', 'fp32'): lambda: F.conv2d(x, w, padding=1),
        ('gemm', 'torch', 'bf16 autocast'): autocast(lambda: a @ b),
        ('conv3x3', 'torch', 'bf16 autocast'): autocast(
            lambda: F.conv2d(x, w, padding=1)),
        ('gemm', 'torch', 'bf16 native'): lambda: ab @ bb,
        ('conv3x3', 'torch', 'bf16 native'): lambda: F.conv2d(xb, wb, padding=1),
    }


def _torch_int8_cases(size: dict) -> dict:
    cases = {}
    n = size['gemm']
    a = torch.randint(-64, 64, (n, n), dtype=torch.int8)
    b = torch.randint(-64, 64, (n, n), dtype=torch.int8)
    try:
        torch._int_mm(a[:32, :32].contiguous(), b[:32, :32].contiguous())
        cases[('gemm', 'torch', 'int8')] = lambda: torch._int_mm(a, b)
    except (RuntimeError, AttributeError) as e:
        cases[('gemm', 'torch', 'int8')] = f'torch._int_mm: {e}'.splitlines()[0]
    try:
        from torch.ao.nn.quantized import Conv2d as QConv2d

        # torch.ao's quantized tensors warn that they are deprecated
        warnings.filterwarnings('ignore', message='torch.quantize_per_tensor')
        c = size['conv'][1]
        conv = QConv2d(c, c, 3, padding=1)
        qw = torch.quantize_per_tensor(_conv_weight(c), 0.02, 0, torch.qint8)
        conv.set_weight_bias(qw, None)
        conv.scale, conv.zero_point = 0.05, 64
        x = torch.randn(*size['conv']).to(memory_format=torch.channels_last)
        qx = torch.quantize_per_tensor(x, 0.05, 64, torch.quint8)
        conv(qx)
        cases[('conv3x3', 'torch', 'int8')] = lambda: conv(qx)
    except (RuntimeError, ImportError, AssertionError) as e:
        cases[('conv3x3', 'torch', 'int8')] = f'quantized Conv2d: {e}'.splitlines()[0]
    return cases


def all_cases(size: dict, threads: int) -> dict:
    cases = _torch_float_cases(size)
    cases.update(_torch_int8_cases(size))
    cases.update(ort_cases(size, threads))
    return cases


def flops(op: str, size: dict) -> float:
    if op == 'gemm':
        return 2.0 * size['gemm'] ** 3
    bs, c, h, w = size['conv']
    return 2.0 * bs * c * c * 9 * h * w


# ----------------------------------------------------------------------
# Kernels: a child with ONEDNN_VERBOSE=1 runs each PyTorch case once
# ----------------------------------------------------------------------
def probe_child() -> None:
    """Runs each PyTorch case once at quick size, a marker line before it."""
    torch.set_num_threads(1)
    cases = _torch_float_cases(SIZES['quick'])
    cases.update(_torch_int8_cases(SIZES['quick']))
    for key, fn in cases.items():
        if callable(fn):
            print(PROBE_TAG + '|'.join(key), flush=True)
            fn()
    print(PROBE_TAG + 'end', flush=True)


def parse_onednn_verbose(text: str) -> dict:
    """``{'isa': oneDNN's ISA line, (op, fw, precision): implementation}``
    from a probe child's stdout (``exec`` lines other than reorders)."""
    kernels, key = {'isa': None}, None
    for line in text.splitlines():
        if line.startswith(PROBE_TAG):
            key = tuple(line[len(PROBE_TAG):].split('|'))
            continue
        if not line.startswith('onednn_verbose'):
            continue
        if ',isa:' in line and kernels['isa'] is None:
            kernels['isa'] = line.split(',isa:', 1)[1].strip()
        parts = line.split(',')
        if 'exec' in parts[:-4] and key is not None and len(key) == 3:
            i = parts.index('exec')
            prim, impl = parts[i + 2], parts[i + 3]
            if prim != 'reorder' and key not in kernels:
                kernels[key] = f'{prim} {impl}'.strip() if impl else prim
    return kernels


def probe_kernels() -> dict:
    env = dict(os.environ, ONEDNN_VERBOSE='1', OMP_NUM_THREADS='1')
    out = subprocess.run([sys.executable, os.path.abspath(__file__), '--probe'],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {'isa': None, 'error': out.stderr.strip().splitlines()[-1:]}
    return parse_onednn_verbose(out.stdout)


def kernel_name(key, kernels: dict) -> str:
    if key[1] == 'onnxruntime':
        return 'CPUExecutionProvider (MLAS)'
    if key in kernels:
        return 'oneDNN ' + kernels[key]
    if not kernels:
        return 'not probed'
    return 'no oneDNN primitive (MKL / fbgemm / ATen)'


# ----------------------------------------------------------------------
# Run, table, JSON
# ----------------------------------------------------------------------
def machine_info(threads: int) -> dict:
    info = dict(cpu_model=cpu_model(), cores=os.cpu_count(), threads=threads,
                isa=isa_summary(), native_bf16=native_bf16(),
                torch=torch.__version__,
                torch_cpu_capability=torch.backends.cpu.get_cpu_capability(),
                mkldnn=torch.backends.mkldnn.is_available(),
                mkl=torch.backends.mkl.is_available(),
                quantized_engine=torch.backends.quantized.engine,
                load_average=os.getloadavg()[0],
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec='seconds'))
    try:
        import onnxruntime as ort
        info['onnxruntime'] = ort.__version__
    except ImportError:
        info['onnxruntime'] = None
    info['cpu_flags_overridden'] = 'MMSEG_TEMPORAL_CPU_FLAGS' in os.environ
    info['bf16_flags_seen'] = sorted(f for f in cpu_flags() if 'bf16' in f)
    return info


def measure(args) -> dict:
    mode = 'quick' if args.quick else 'full'
    size = SIZES[mode]
    repeats = args.repeats or (2 if args.quick else 10)
    warmup = 1 if args.quick else 2
    torch.set_num_threads(args.threads)
    kernels = {} if args.no_kernels else probe_kernels()
    rows = []
    for key, fn in all_cases(size, args.threads).items():
        op, framework, precision = key
        row = dict(op=op, framework=framework, precision=precision,
                   shape=size['gemm'] if op == 'gemm' else list(size['conv']),
                   gflop=flops(op, size) / 1e9, kernel=kernel_name(key, kernels))
        if callable(fn):
            best = min(time_calls(fn, repeats, warmup))
            row.update(best_ms=best * 1e3, gflops=flops(op, size) / best / 1e9)
        else:
            row.update(best_ms=None, gflops=None, kernel=f'unavailable: {fn}')
        rows.append(row)
    for row in rows:  # each rate against PyTorch float32 on the same op
        ref = next(r['gflops'] for r in rows if r['op'] == row['op']
                   and r['framework'] == 'torch' and r['precision'] == 'fp32')
        row['vs_torch_fp32'] = row['gflops'] / ref if row['gflops'] else None
    return dict(mode=mode, repeats=repeats, warmup=warmup, sizes=size,
                machine=machine_info(args.threads),
                onednn_isa=kernels.get('isa'), rows=rows)


def format_table(result: dict) -> str:
    m = result['machine']
    isa = ', '.join(k for k, v in m['isa'].items() if v) or 'none of them'
    lines = [f'CPU: {m["cpu_model"]}, {m["cores"]} cores, {m["threads"]} threads;'
             f' ISA: {isa}; torch {m["torch"]} (capability '
             f'{m["torch_cpu_capability"]}, mkldnn {m["mkldnn"]}); oneDNN ISA: '
             f'{result["onednn_isa"]}; onnxruntime {m["onnxruntime"]}; '
             f'load average {m["load_average"]:.2f}; {result["mode"]} mode, best '
             f'of {result["repeats"]}',
             '| op | framework | precision | GFLOP/s (int8: GOP/s) | best ms | '
             'x torch fp32 | kernel |', '| --- | --- | --- | --- | --- | --- | --- |']
    for r in result['rows']:
        num = (lambda v, f: '-' if v is None else format(v, f))  # noqa: E731
        lines.append(f'| {r["op"]} | {r["framework"]} | {r["precision"]} | '
                     f'{num(r["gflops"], ".1f")} | {num(r["best_ms"], ".2f")} | '
                     f'{num(r["vs_torch_fp32"], ".2f")} | {r["kernel"]} |')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.probe:
        probe_child()
        return {}
    result = measure(args)
    print(format_table(result), flush=True)
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=1) + '\n')
        print(f'saved {args.out}')
    return result


if __name__ == '__main__':
    main()
