"""The GPU check's clock (synchronised times, peak memory) and its second
part, the training step (``benchmarks/speed/gpu_check.py``): the ETC and
baseline steps of a PSPNet-R18 student at random init, float32 and under
AMP, their median time, peak memory and first-step losses against float32."""
import copy
import os.path as osp
import statistics
import time

import numpy as np
import torch
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODELS_DIR = osp.join(ROOT, 'configs', '_base_', 'models')


class Clock:
    """Synchronised wall times and peak memory on one device."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == 'cuda'

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn) -> float:
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - t0

    def reset_peak(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def peak_mib(self):
        return torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None


# ----------------------------------------------------------------------
# 2. training step
# ----------------------------------------------------------------------
def narrow(cfg: dict, width) -> dict:
    """A segmentor config at base width ``width`` (None: unchanged)."""
    cfg = copy.deepcopy(cfg)
    if width is None:
        return cfg
    f = width / 64
    cfg['backbone'].update(base_channels=width, stem_channels=width)
    for head in ('decode_head', 'auxiliary_head'):
        cfg[head].update(in_channels=int(cfg[head]['in_channels'] * f),
                         channels=max(8, int(cfg[head]['channels'] * f)))
    return cfg


def segmentor_configs(setting: dict) -> dict:
    """``{'baseline': ..., 'etc': ...}`` TemporalDistillSegmentor configs."""
    student = Config.fromfile(osp.join(MODELS_DIR, 'pspnet_r18_d8.py')).model
    teacher = Config.fromfile(osp.join(MODELS_DIR, 'pspnet_r101_d8.py')).model.student
    losses = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'etc_losses.py'))
    pre = dict(student.data_preprocessor, size=setting['crop'])
    s = narrow(student.student.to_dict(), setting['width'])
    t = narrow(teacher.to_dict(), setting['width'])
    etc_losses = dict(tl=losses.tl, sf_pixel=losses.sf_pixel, sf_pair=losses.sf_pair,
                      pf=losses.pf, mf=dict(losses.mf, pool_size=setting['mf_pool']))
    base = dict(type='TemporalDistillSegmentor', student=s, data_preprocessor=pre)
    return dict(baseline=dict(base, losses={}),
                etc=dict(base, teacher=dict(config=t, checkpoint=None),
                         flow=dict(type='FlowNet2'), losses=etc_losses))


def make_batch(setting: dict, frames: int, seed: int = 0) -> dict:
    """A batch as the video pipeline packs it (``PackVideoSegInputs``):
    random frames and labels at the crop size."""
    from mmengine.dataset import pseudo_collate

    from mmseg_temporal.datasets.transforms.formatting import PackVideoSegInputs
    rng = np.random.default_rng(seed)
    h, w = setting['crop']
    pack = PackVideoSegInputs()
    samples = []
    for _ in range(setting['batch']):
        imgs = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(frames)]
        seg = rng.integers(0, 19, (h, w)).astype(np.uint8)
        samples.append(pack(dict(imgs=imgs, gt_seg_map=seg, label_index=frames // 2,
                                 img_shape=(h, w), ori_shape=(h, w))))
    return pseudo_collate(samples)


def optim_wrapper(model, precision: str, amp_dtype: str, device):
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    from mmseg_temporal.engine.optimizers import CPUAutocastOptimWrapper
    sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                          weight_decay=5e-4)
    if precision == 'fp32':
        return OptimWrapper(optimizer=sgd)
    if device.type == 'cpu':
        return CPUAutocastOptimWrapper(optimizer=sgd)
    return AmpOptimWrapper(optimizer=sgd, dtype=amp_dtype, loss_scale='dynamic')


def run_steps(model_cfg: dict, batch: dict, precision: str, args, setting,
              clock) -> dict:
    """Median step ms, peak MiB and the first step's losses."""
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.init_weights()
    model = model.to(clock.device).train()
    wrapper = optim_wrapper(model, precision, args.amp_dtype, clock.device)
    times, first = [], None
    clock.reset_peak()
    for k in range(setting['warmup'] + setting['steps']):
        torch.manual_seed(k)  # the same dropout draws in every precision
        data = copy.deepcopy(batch)
        out = {}
        dt = clock.time(lambda: out.update(model.train_step(data, wrapper)))
        if first is None:
            first = {key: torch.as_tensor(v).item() for key, v in out.items()
                     if 'loss' in key}
        if k >= setting['warmup']:
            times.append(dt)
    return dict(ms=1e3 * statistics.median(times), peak_mib=clock.peak_mib(),
                losses=first)


def guarded(row: dict, fn, clock) -> dict:
    """``row`` updated with ``fn()``, or with the error's first line in
    ``note`` (one part failing, e.g. out of memory or a non-finite loss in
    float16, does not stop the others)."""
    try:
        return dict(row, **fn())
    except (RuntimeError, FloatingPointError, ValueError) as e:
        if clock.cuda:
            torch.cuda.empty_cache()
        return dict(row, note=f'failed: {type(e).__name__}: '
                              f'{(str(e).splitlines() or [""])[0][:200]}')


def compare_to_fp32(rows: list) -> None:
    """Loss agreement and speed of each AMP row against its fp32 row, and
    each ETC row's step time over the baseline's."""
    done = [r for r in rows if 'ms' in r]
    for row in done:
        ref = next((r for r in done if r['case'] == row['case']
                    and r['precision'] == 'fp32'), None)
        if row['precision'] != 'fp32' and ref is not None:
            row['agreement'] = max(
                abs(row['losses'][k] - v) / max(abs(v), 1e-8)
                for k, v in ref['losses'].items())
            row['vs_fp32'] = ref['ms'] / row['ms']
            row['note'] = 'first-step losses: max relative difference to fp32'
        base = next((r for r in done if r['case'] == 'baseline'
                     and r['precision'] == row['precision']), None)
        if row['case'] == 'etc' and base is not None:
            row['etc_over_baseline'] = row['ms'] / base['ms']


def check_train_step(setting: dict, args, clock: Clock) -> list:
    cfgs = segmentor_configs(setting)
    rows = []
    for name, frames in (('baseline', 1), ('etc', 3)):
        batch = make_batch(setting, frames)
        for precision in args.precisions:
            row = dict(part='train step', case=name,
                       precision=_label(precision, args, clock))
            rows.append(guarded(row, lambda: run_steps(
                cfgs[name], batch, precision, args, setting, clock), clock))
    compare_to_fp32(rows)
    return rows


def _label(precision: str, args, clock) -> str:
    if precision == 'fp32':
        return 'fp32'
    return 'bf16 autocast' if clock.device.type == 'cpu' else f'amp {args.amp_dtype}'
