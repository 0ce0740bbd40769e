"""Per-frame latency of the exported students in each precision, side by
side with fp32 in one interleaved run, and their argmax agreement with fp32
on held-out frames (issue 21, item 2; docs/benchmarks.md "Precision").

    python benchmarks/speed/precision_latency.py \
        [--models tiny mobilenetv2 pspnet_r18] [--sizes 360x480 720x960] \
        [--repeats 30] [--threads 2] [--calib-frames 16] \
        [--heldout-frames 8] [--out precision_latency.json]

For each student (random weights: latency does not depend on them) and
input size (H x W): the float32 ONNX export (:func:`export_onnx`, parity
checked), the int8 export of the same model (onnxruntime static
quantisation, QDQ, calibrated on ``--calib-frames`` frames of CamVid
``train``, checked on ``--heldout-frames`` frames of ``val``; a generated
clip when ../shared/data/camvid is absent), the PyTorch model in float32
and under bfloat16 autocast. Every round calls each of them once on the
same normalised input, the order rotated each round, so all see the same
machine state. Rows: p50 / p90 ms, the speed-up of the p50 over fp32 of the
same backend, and the argmax agreement with the fp32 model on the held-out
frames. PyTorch runs fp32 as the project does (NCHW), fp32 with channels-last
weights (``fp32-cl``: the layout's share) and bf16 with channels-last weights
(as :class:`PytorchFrameModel` runs bf16); its speed-ups are over fp32 NCHW.
A precision the machine cannot run is a row with the reason
(ONNX bf16: onnxruntime's CPU provider has no bfloat16 Conv; PyTorch bf16
on a CPU without bfloat16 arithmetic).

Random weights give near-tied logits, so the agreement here is a floor:
trained checkpoints are scored by benchmarks/speed/precision_quality.py.
"""
import argparse
import contextlib
import copy
import datetime
import glob
import json
import os
import os.path as osp
import sys
import tempfile
import time

import cv2
import numpy as np
import torch

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.onnx_export import export_onnx
from mmseg_temporal.deploy.onnx_modules import LogitsAtInputSize
from mmseg_temporal.deploy.onnx_quantize import (
    CALIBRATION_DEFAULTS,
    onnx_bf16_support,
    sample_frames,
)
from mmseg_temporal.inference.frame_models import OnnxFrameModel, cpu_session_options
from mmseg_temporal.inference.model_files import init_student
from mmseg_temporal.utils.atomic import atomic_write_text
from mmseg_temporal.utils.cpu_info import cpu_model, isa_summary, native_bf16

from _common import random_student as exported_random_student

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CAMVID = osp.join(ROOT, '..', 'shared', 'data', 'camvid')

STUDENTS = {
    'tiny': 'configs/camvid_cpu/pspnet_tiny_baseline_camvid_cpu.py',
    'mobilenetv2': 'configs/camvid/mobilenetv2_d8_pspnet_baseline_camvid.py',
    'pspnet_r18': 'configs/cityscapes/pspnet_r18_d8_baseline_cityscapes.py',
}
RUNS = (('fp32', 'onnxruntime'), ('int8', 'onnxruntime'),
        ('bf16', 'onnxruntime'), ('fp32', 'pytorch'), ('fp32-cl', 'pytorch'),
        ('bf16', 'pytorch'))


def frame_sources(tmp: str):
    """(calibration, held-out) folders: CamVid train / val, or two halves
    of a generated 360x480 clip."""
    if glob.glob(osp.join(CAMVID, 'val', '*.png')):
        return osp.join(CAMVID, 'train'), osp.join(CAMVID, 'val')
    rng = np.random.default_rng(0)
    out = []
    for part in ('calib', 'heldout'):
        folder = osp.join(tmp, part)
        os.makedirs(folder)
        for t in range(40):
            blocks = rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)
            img = cv2.resize(blocks, (480, 360), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(osp.join(folder, f'{t:04d}.png'), img)
        out.append(folder)
    return tuple(out)


def random_student(name: str, tmp: str):
    """(config, checkpoint) of the exported student with random weights."""
    return exported_random_student(osp.join(ROOT, STUDENTS[name]), tmp, name)


def exports(cfg: str, ckpt: str, shape, tmp: str, cal: dict):
    """The fp32 and int8 ``.onnx`` of a student at ``shape`` and the int8
    held-out agreement (measured by the export, not enforced here)."""
    import onnxruntime  # noqa: F401  (fails here, not midway)
    stem = osp.join(tmp, f'{osp.basename(osp.dirname(cfg))}_{shape[0]}x{shape[1]}')
    export_onnx(cfg, ckpt, stem + '_fp32.onnx', input_shape=shape)
    report = export_onnx(cfg, ckpt, stem + '_int8.onnx', input_shape=shape,
                         precision='int8', calibration=cal,
                         min_quant_agreement=0.)
    return (stem + '_fp32.onnx', stem + '_int8.onnx',
            report['calibration']['heldout']['argmax_agreement'])


def runners(cfg: str, ckpt: str, fp32: str, int8: str, threads: int):
    """``{(precision, backend): fn(x) -> logits (numpy)}`` and
    ``{(precision, backend): reason}`` for those refused here."""
    import onnxruntime as ort
    module = LogitsAtInputSize(init_student(cfg, ckpt)).eval()
    # channels-last weights, as PytorchFrameModel runs bf16
    module_cl = copy.deepcopy(module).to(memory_format=torch.channels_last)
    sessions = {p: ort.InferenceSession(f, cpu_session_options(threads),
                                        providers=['CPUExecutionProvider'])
                for p, f in (('fp32', fp32), ('int8', int8))}

    def onnx(p):
        return lambda x: sessions[p].run(['logits'], {'input': x})[0]

    def torch_run(bf16: bool, m=module):
        def run(x):
            cast = torch.autocast('cpu', dtype=torch.bfloat16) if bf16 \
                else contextlib.nullcontext()
            with torch.no_grad(), cast:
                return m(torch.from_numpy(x)).float().numpy()
        return run

    fns = {('fp32', 'onnxruntime'): onnx('fp32'),
           ('int8', 'onnxruntime'): onnx('int8'),
           ('fp32', 'pytorch'): torch_run(False),
           ('fp32-cl', 'pytorch'): torch_run(False, module_cl)}
    refused = {('bf16', 'onnxruntime'): onnx_bf16_support()[1]}
    if native_bf16():
        fns['bf16', 'pytorch'] = torch_run(True, module_cl)
    else:
        refused['bf16', 'pytorch'] = ('no bfloat16 arithmetic on this CPU '
                                      '(mmseg_temporal.utils.cpu_info)')
    return fns, refused


def interleaved(fns: dict, x: np.ndarray, repeats: int, warmup: int = 2):
    """Milliseconds of each call, the order rotated every round."""
    keys = list(fns)
    for _ in range(warmup):
        for k in keys:
            fns[k](x)
    times = {k: [] for k in keys}
    for i in range(repeats):
        for k in keys[i % len(keys):] + keys[:i % len(keys)]:
            t0 = time.perf_counter()
            fns[k](x)
            times[k].append((time.perf_counter() - t0) * 1e3)
    return times


def agreement(fn, ref_fn, inputs) -> float:
    """Argmax agreement of ``fn`` with ``ref_fn`` over ``inputs``."""
    return float(np.mean([(fn(x).argmax(1) == ref_fn(x).argmax(1)).mean()
                          for x in inputs]))


def measure(name: str, shape, args, tmp: str, cal: dict):
    """The rows of one student at one size."""
    cfg, ckpt = random_student(name, tmp)
    fp32, int8, int8_agree = exports(cfg, ckpt, shape, tmp, cal)
    fns, refused = runners(cfg, ckpt, fp32, int8, args.threads)
    to_input = OnnxFrameModel(fp32, num_threads=1).input_of
    held = [to_input(f) for f in sample_frames(cal)[1].frames]
    times = interleaved(fns, held[0], args.repeats)
    agree = {('int8', 'onnxruntime'): int8_agree,
             ('fp32-cl', 'pytorch'): agreement(
                 fns['fp32-cl', 'pytorch'], fns['fp32', 'pytorch'], held),
             ('fp32', 'onnxruntime'): agreement(
                 fns['fp32', 'onnxruntime'], fns['fp32', 'pytorch'], held)}
    if ('bf16', 'pytorch') in fns:
        agree['bf16', 'pytorch'] = agreement(
            fns['bf16', 'pytorch'], fns['fp32', 'pytorch'], held)
    rows = []
    for prec, backend in RUNS:
        row = dict(model=name, size=f'{shape[0]}x{shape[1]}', precision=prec,
                   backend=backend)
        if (prec, backend) in refused:
            rows.append(dict(row, refused=refused[prec, backend]))
            continue
        t = np.asarray(times[prec, backend])
        base = np.median(times['fp32', backend])
        rows.append(dict(row, p50_ms=float(np.median(t)),
                         p90_ms=float(np.percentile(t, 90)),
                         speedup_p50=float(base / np.median(t)),
                         agreement=agree.get((prec, backend), 1.)))
    return rows


def print_row(r: dict) -> None:
    if 'refused' in r:
        print(f'| {r["model"]} | {r["size"]} | {r["precision"]} | '
              f'{r["backend"]} | refused: {r["refused"][:90]} | | | |',
              flush=True)
        return
    print(f'| {r["model"]} | {r["size"]} | {r["precision"]} | {r["backend"]} '
          f'| {r["p50_ms"]:.1f} | {r["p90_ms"]:.1f} | {r["speedup_p50"]:.2f}x '
          f'| {100 * r["agreement"]:.2f} % |', flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=list(STUDENTS),
                   choices=sorted(STUDENTS))
    p.add_argument('--sizes', nargs='+', default=['360x480', '720x960'])
    p.add_argument('--repeats', type=int, default=30)
    p.add_argument('--threads', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--calib-frames', type=int, default=16)
    p.add_argument('--heldout-frames', type=int, default=8)
    p.add_argument('--out', default=None, help='save the rows as JSON')
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import onnxruntime as ort
    isa = ' '.join(k for k, v in isa_summary().items() if v)
    head = dict(cpu=cpu_model(), isa=isa, threads=args.threads,
                torch=torch.__version__, onnxruntime=ort.__version__,
                load_average=round(os.getloadavg()[0], 2),
                date=datetime.date.today().isoformat(),
                command='python benchmarks/speed/precision_latency.py '
                        + ' '.join(sys.argv[1:] if argv is None else argv))
    print('; '.join(f'{k}: {v}' for k, v in head.items()))
    print('| model | size | precision | backend | p50 ms | p90 ms | '
          'speed-up vs fp32 (p50) | argmax agreement vs fp32 |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        calib, heldout = frame_sources(tmp)
        cal = dict(CALIBRATION_DEFAULTS, source=calib, heldout=heldout,
                   num_frames=args.calib_frames,
                   heldout_frames=args.heldout_frames)
        for name in args.models:
            for size in args.sizes:
                shape = tuple(int(s) for s in size.split('x'))
                for row in measure(name, shape, args, tmp, cal):
                    print_row(row)
                    rows.append(row)
    if args.out:
        atomic_write_text(args.out, json.dumps(dict(head, rows=rows), indent=2))
    return rows


if __name__ == '__main__':
    main()
