"""One-command GPU check (issue 21, item 4; docs/benchmarks.md "GPU check").

    python benchmarks/speed/gpu_check.py [--device cuda] [--out-dir DIR]
        [--amp-dtype auto|bfloat16|float16] [--tiny]

Runs in a few minutes on one modern GPU (budget: under 8) and prints one
table, saved as ``gpu_check.json`` and ``gpu_check.md`` in ``--out-dir``:

1. **correlation**: FlowNet2's correlation (kernel 1, max displacement
   10, dilation_patch 2) on level-3 features of a 769x769 pair (2 x 256 x
   104 x 104): ``mmcv.ops.Correlation`` on the device (where mmcv has the
   CUDA op) and the project's PyTorch path on the device and on the CPU
   (``mmseg_temporal/flow/estimators/correlation.py``), each against a plain
   shift-and-multiply reference on the same inputs (max abs difference,
   relative to the reference's largest value), and their times.
2. **train step**: the ETC step (PSPNet-R18 student of
   ``configs/_base_/models/pspnet_r18_d8.py``, PSPNet-R101 teacher,
   FlowNet2 online flow, all at random init; SF + PF + MF + TL of
   ``configs/_base_/etc_losses.py``; 769x769 triplets, batch 2) and the
   baseline step (the student alone, CE on the labelled frames), each in
   float32 and under AMP (MMEngine's ``AmpOptimWrapper``, bfloat16 where
   the GPU has it, else float16; on the CPU ``CPUAutocastOptimWrapper``):
   median step time, peak memory, the first step's losses against float32
   (same weights, same batch, same seed) and the ETC / baseline ratio.
3. **fps**: exported students (``export_student``, then ``init_student``)
   PSPNet-R18, MobileNetV2-PSPNet and HRNet-W18 at 1024x2048 and 360x480,
   float32 and AMP, timed with the loop of MMSeg's
   ``tools/analysis_tools/benchmark.py`` (5 warm-up + 200 calls of
   ``predict`` on one image, synchronised; fps = calls / time).

``--tiny`` runs the same code at tiny sizes (65x65 crops, networks at base
width 8, one PSPNet-R18 student at 64x128 and 36x48) so that the test
suite can run it on the CPU: ``--device cpu --tiny``.
"""
import argparse
import datetime
import json
import logging
import os
import os.path as osp
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.export import export_student
from mmseg_temporal.flow.estimators.correlation import correlation
from mmseg_temporal.inference.model_files import init_student
from mmseg_temporal.models.segmentors.student_config import student_model_config
from mmseg_temporal.utils.atomic import atomic_write_text
from mmseg_temporal.utils.cpu_info import cpu_model, native_bf16

from _gpu_train_step import Clock, _label, check_train_step, guarded, narrow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUDENTS = dict(
    pspnet_r18='configs/cityscapes/pspnet_r18_d8_baseline_cityscapes.py',
    mobilenetv2='configs/cityscapes/mobilenetv2_d8_pspnet_baseline_cityscapes.py',
    hrnet_w18='configs/cityscapes/hrnet_w18_fcn_baseline_cityscapes.py')
CORR = dict(kernel_size=1, max_displacement=10, stride=1, padding=0,
            dilation_patch=2)  # FlowNetC's (flownet_blocks.CorrEncoder)
SETTINGS = dict(
    full=dict(crop=(769, 769), batch=2, corr=(2, 256, 104, 104), width=None,
              mf_pool=16, students=tuple(STUDENTS), fps_sizes=((1024, 2048), (360, 480)),
              fps_warmup=5, fps_iters=200, warmup=3, steps=10),
    tiny=dict(crop=(65, 65), batch=2, corr=(1, 8, 24, 24), width=8, mf_pool=2,
              students=('pspnet_r18',), fps_sizes=((64, 128), (36, 48)),
              fps_warmup=1, fps_iters=3, warmup=0, steps=1))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda')
    p.add_argument('--amp-dtype', default='auto',
                   choices=('auto', 'bfloat16', 'float16'))
    p.add_argument('--tiny', action='store_true',
                   help='tiny sizes and widths (the CPU test)')
    p.add_argument('--out-dir', default=osp.join(ROOT, 'work_dirs', 'gpu_check'))
    return p.parse_args(argv)


# ----------------------------------------------------------------------
# 1. correlation
# ----------------------------------------------------------------------
def reference_correlation(in1, in2, max_displacement: int, dilation_patch: int):
    """Kernel-1, stride-1 correlation by shifting ``in2`` (float64)."""
    a, b = in1.double(), in2.double()
    h, w = a.shape[-2:]
    rad = max_displacement * dilation_patch
    bp = torch.nn.functional.pad(b, (rad, rad, rad, rad))
    patch = 2 * max_displacement + 1
    out = a.new_zeros(a.shape[0], patch, patch, h, w)
    for i in range(patch):
        for j in range(patch):
            y, x = i * dilation_patch, j * dilation_patch
            out[:, i, j] = (a * bp[:, :, y:y + h, x:x + w]).sum(1)
    return out


def check_correlation(setting: dict, device, clock: Clock) -> list:
    g = torch.Generator().manual_seed(0)
    in1 = torch.randn(*setting['corr'], generator=g)
    in2 = torch.randn(*setting['corr'], generator=g)
    ref = reference_correlation(in1.to(device), in2.to(device),
                                CORR['max_displacement'], CORR['dilation_patch'])
    scale = float(ref.abs().max())
    paths = [('project torch path', 'cpu', 'torch')]
    if device.type != 'cpu':
        paths.append(('project torch path', device.type, 'torch'))
        paths.append(('mmcv.ops.Correlation', device.type, 'mmcv'))
    rows = []
    for name, dev, backend in paths:
        a, b = in1.to(dev), in2.to(dev)
        try:
            out = correlation(a, b, backend=backend, **CORR)
            ms = 1e3 * min(clock.time(lambda: correlation(a, b, backend=backend, **CORR))
                           for _ in range(3))
        except RuntimeError as e:
            rows.append(dict(part='correlation', case=f'{name} ({dev})', precision='fp32',
                             note=f'failed: {str(e).splitlines()[0]}'))
            continue
        err = float((out.double().to(ref.device) - ref).abs().max()) / scale
        rows.append(dict(part='correlation', case=f'{name} ({dev})', precision='fp32',
                         ms=ms, agreement=err,
                         note=f'max abs diff / max abs ref, inputs {list(setting["corr"])}'))
    return rows


# ----------------------------------------------------------------------
# 3. exported students' fps
# ----------------------------------------------------------------------
def exported_student(name: str, setting: dict, tmp: str, device):
    """Export a random-weight student and load it back as a user would."""
    from mmseg.registry import MODELS
    config = osp.join(ROOT, STUDENTS[name])
    cfg = Config.fromfile(config)
    if setting['width'] is not None:
        cfg.model.student = narrow(cfg.model.student.to_dict(), setting['width'])
        config = osp.join(tmp, f'{name}_train.py')
        cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(student_model_config(cfg))
    model.init_weights()
    ckpt = osp.join(tmp, f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    cfg_out, ckpt_out = export_student(config, ckpt, osp.join(tmp, name))
    return init_student(cfg_out, ckpt_out, device=str(device))


def benchmark_fps(model, hw, precision, args, setting, clock) -> dict:
    """MMSeg's benchmark loop: warm-up calls, then timed ``predict`` calls."""
    x = torch.randn(1, 3, *hw, device=clock.device)
    dtype = torch.bfloat16 if clock.device.type == 'cpu' else getattr(torch, args.amp_dtype)

    def call():
        with torch.autocast(clock.device.type, dtype=dtype, enabled=precision == 'amp'):
            model.predict(x)
    total = 0.0
    clock.reset_peak()
    with torch.no_grad():
        for i in range(setting['fps_warmup'] + setting['fps_iters']):
            dt = clock.time(call)
            if i >= setting['fps_warmup']:
                total += dt
    return dict(ms=1e3 * total / setting['fps_iters'],
                fps=setting['fps_iters'] / total, peak_mib=clock.peak_mib())


def check_fps(setting: dict, args, clock: Clock) -> list:
    if clock.device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in setting['students']:
            try:
                model = exported_student(name, setting, tmp, clock.device)
            except (RuntimeError, ValueError) as e:
                rows.append(dict(part='fps', case=name, precision='-',
                                 note=f'export failed: {str(e).splitlines()[0][:200]}'))
                continue
            for hw in setting['fps_sizes']:
                for precision in args.precisions:
                    row = dict(part='fps', case=f'{name} {hw[0]}x{hw[1]}',
                               precision=_label(precision, args, clock))
                    rows.append(guarded(row, lambda: benchmark_fps(
                        model, hw, precision, args, setting, clock), clock))
    return rows


# ----------------------------------------------------------------------
# Table, files, main
# ----------------------------------------------------------------------
def machine(device) -> dict:
    info = dict(device=str(device), cpu=cpu_model(), torch=torch.__version__,
                cuda=torch.version.cuda,
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec='seconds'))
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
        info['bf16'] = torch.cuda.is_bf16_supported()
    try:
        import mmcv
        from mmcv.ops.correlation import CorrelationFunction  # noqa: F401
        info['mmcv'] = f'{mmcv.__version__} (ops compiled)'
    except (ImportError, OSError) as e:
        info['mmcv'] = f'no compiled ops ({e})'
    return info


COLUMNS = (('part', '{}'), ('case', '{}'), ('precision', '{}'), ('ms', '{:.2f}'),
           ('fps', '{:.1f}'), ('peak_mib', '{:.0f}'), ('agreement', '{:.2e}'),
           ('vs_fp32', '{:.2f}x'), ('etc_over_baseline', '{:.2f}x'), ('note', '{}'))


def format_table(result: dict) -> str:
    m = result['machine']
    head = (f'GPU check ({result["mode"]}): {m.get("gpu", m["device"])}, CPU {m["cpu"]}, '
            f'torch {m["torch"]} (CUDA {m["cuda"]}), mmcv {m["mmcv"]}, {m["date"]}; '
            f'{result["wall_s"]:.0f} s')
    lines = [head, '| ' + ' | '.join(c for c, _ in COLUMNS) + ' |',
             '|' + ' --- |' * len(COLUMNS)]
    for row in result['rows']:
        cells = [fmt.format(row[c]) if row.get(c) is not None else '-'
                 for c, fmt in COLUMNS]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('gpu_check: --device cuda but torch has no CUDA here '
                         f'(torch {torch.__version__}); install a CUDA build of '
                         'torch, or run --device cpu --tiny')
    if args.amp_dtype == 'auto':
        args.amp_dtype = ('bfloat16' if device.type != 'cuda'
                          or torch.cuda.is_bf16_supported() else 'float16')
    # bf16 on a CPU without bf16 hardware is refused (CPUAutocastOptimWrapper)
    args.precisions = ('fp32', 'amp') if device.type != 'cpu' or native_bf16() \
        else ('fp32',)
    init_default_scope('mmseg')
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    setting = SETTINGS['tiny' if args.tiny else 'full']
    clock = Clock(device)
    t0 = time.perf_counter()
    rows = check_correlation(setting, device, clock)
    rows += check_train_step(setting, args, clock)
    rows += check_fps(setting, args, clock)
    result = dict(mode='tiny' if args.tiny else 'full', machine=machine(device),
                  setting={k: list(v) if isinstance(v, tuple) else v
                           for k, v in setting.items()},
                  rows=rows, wall_s=time.perf_counter() - t0)
    table = format_table(result)
    print(table, flush=True)
    os.makedirs(args.out_dir, exist_ok=True)
    atomic_write_text(osp.join(args.out_dir, 'gpu_check.json'),
                      json.dumps(result, indent=1) + '\n')
    atomic_write_text(osp.join(args.out_dir, 'gpu_check.md'), table + '\n')
    print(f'saved {osp.join(args.out_dir, "gpu_check.json")} and gpu_check.md')
    return result


if __name__ == '__main__':
    main()
