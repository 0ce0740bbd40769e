"""CamVid study on the CPU: does ETC move mIoU and TC the way the paper says?

    python benchmarks/camvid_study.py [--data-root ../shared/data/camvid]
        [--work-dir work_dirs/camvid_cpu_study] [--iters 600] [--seeds 0 1]

From scratch (no ImageNet weights: nothing is downloaded), at half
resolution (180x240 frames, 176x224 crops), with flow from a DIS flow cache:

1. precompute the DIS flow of every training pair (tools/precompute_flow.py);
2. train the teacher (PSPNet-R18-D8, base width 32) with CE + TL;
3. train the tiny student (base width 16) as baseline (scheme a), + TL
   (scheme e) and + ALL (scheme j: SF + PF + MF + TL from the teacher);
4. test the teacher and each student: mIoU on the test split (233 frames), mTC / mTC_seq
   on Seq05VD (171 frames, TC flow by DIS), parameters, CPU ms per frame.

Resumable: each step is skipped when its output exists, and a killed
training resumes from its last checkpoint. Writes ``results.json`` and
``results.md`` into the work dir and copies the training logs into
``benchmarks/camvid_study_logs/``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import time

from mmengine.config import Config
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.apis import (cpu_ms_per_frame, test_checkpoint,
                                 train_unless_done)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'configs', 'camvid_cpu')
STUDENTS = [('a: baseline', 'pspnet_tiny_baseline_camvid_cpu.py'),
            ('e: +TL', 'pspnet_tiny_tl_camvid_cpu.py'),
            ('j: +ALL', 'pspnet_tiny_etc_camvid_cpu.py')]


def load(name, args, work_dir, seed):
    cfg = Config.fromfile(osp.join(CFG, name))
    cache = osp.join(args.work_dir, 'flow_cache')
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_iters = args.iters
    cfg.train_cfg.val_interval = args.iters
    cfg.param_scheduler[0].end = args.iters
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = args.data_root
        for step in cfg[key].dataset.get('pipeline', []):
            if step['type'] == 'LoadPrecomputedFlow':
                step['cache_dir'], step['data_root'] = cache, args.data_root
    for ev in cfg.test_evaluator:
        if ev.get('flow_provider'):
            ev['flow_provider'].update(cache_dir=cache, data_root=args.data_root)
    if cfg.model.get('teacher'):
        cfg.model.teacher.config = osp.join(ROOT, cfg.model.teacher.config)
    return cfg


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-root', default=osp.join(ROOT, '..', 'shared', 'data', 'camvid'))
    p.add_argument('--work-dir', default='work_dirs/camvid_cpu_study')
    p.add_argument('--iters', type=int, default=600)
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--logs-to', default=osp.join(ROOT, 'benchmarks', 'camvid_study_logs'))
    args = p.parse_args()
    args.data_root = osp.abspath(args.data_root)
    if not osp.isdir(osp.join(args.data_root, 'train')):
        raise SystemExit(f'CamVid not found at {args.data_root} (expected '
                         'train/, trainannot/, test/, ...)')
    t0 = time.time()

    # 1. flow cache of every training pair (resumable, atomic entries)
    subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'precompute_flow.py'),
         osp.join(CFG, 'pspnet_small_teacher_tl_camvid_cpu.py'),
         '--out', osp.join(args.work_dir, 'flow_cache'),
         '--estimator', '{"type": "DISFlow", "preset": "medium"}',
         '--cfg-options', f'train_dataloader.dataset.data_root={args.data_root}'],
        check=True)

    results = []
    for seed in args.seeds:
        sd = osp.join(args.work_dir, f'seed{seed}')
        teacher = load('pspnet_small_teacher_tl_camvid_cpu.py', args,
                       osp.join(sd, 'teacher'), seed)
        teacher_ckpt = train_unless_done(teacher)
        runs = [('teacher (+TL)', teacher, teacher_ckpt)]
        for label, name in STUDENTS:
            cfg = load(name, args, osp.join(sd, name.split('_')[2]), seed)
            if cfg.model.get('teacher'):
                cfg.model.teacher.checkpoint = teacher_ckpt
            runs.append((label, cfg, train_unless_done(cfg)))
        for label, cfg, ckpt in runs:
            done = osp.join(cfg.work_dir, 'metrics.json')
            if not osp.exists(done):
                m = test_checkpoint(cfg, ckpt)
                model = MODELS.build(cfg.model)
                row = dict(
                    scheme=label, seed=seed, mIoU=float(m['mIoU']),
                    mTC=float(m['mTC']), mTC_seq=float(m['mTC_seq']),
                    params=sum(q.numel() for q in model.student.parameters()),
                    cpu_ms=cpu_ms_per_frame(model.student, (180, 240)))
                with open(done, 'w') as f:
                    json.dump(row, f)
            with open(done) as f:
                results.append(json.load(f))
        os.makedirs(args.logs_to, exist_ok=True)
        for log in glob.glob(osp.join(sd, '*', '2*', '*.log')):
            run = osp.basename(osp.dirname(osp.dirname(log)))
            shutil.copy(log, osp.join(args.logs_to, f'seed{seed}_{run}.log'))

    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    lines = ['| scheme | seeds | params | mIoU (test) | mTC (Seq05VD) | '
             'mTC_seq | CPU ms/frame (180x240) |', '| --- ' * 7 + '|']
    for label in ['teacher (+TL)'] + [lab for lab, _ in STUDENTS]:
        rows = [r for r in results if r['scheme'] == label]
        def agg(k):
            v = [r[k] for r in rows]
            return (f'{statistics.mean(v):.2f}' + (
                f' ± {statistics.stdev(v):.2f}' if len(v) > 1 else ''))
        lines.append(f'| {label} | {len(rows)} | {rows[0]["params"]:,} | '
                     f'{agg("mIoU")} | {agg("mTC")} | {agg("mTC_seq")} | '
                     f'{statistics.median(r["cpu_ms"] for r in rows):.1f} |')
    table = '\n'.join(lines)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    print(table)
    print(f'total time: {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
