"""Paired, multi-seed CamVid study (issue 12, item 7b): the protocol of
``paired_study.py`` on real video, on the CPU.

    OMP_NUM_THREADS=1 python benchmarks/camvid_study.py \\
        [--data-root ../shared/data/camvid] [--work-dir work_dirs/camvid_study] \\
        [--seeds 0 1 2 3 4] [--arms control tl_logits_x10 tl_logits_x10_fb ...] \\
        [--baseline-iters 1500] [--finetune-iters 300] [--teacher-iters 3000]

1. the DIS ``medium`` flow of every training pair into a flow cache
   (``PrecomputedFlow.fill``; resumable, corrupt entries repaired);
2. one single-frame baseline student (``pspnet_tiny_baseline_camvid_cpu.py``,
   CE only), trained once;
3. per seed, every arm fine-tuned from it for the same iterations on the
   same triplets (1 s apart, DIS flow), differing only in the loss terms:
   ``control`` = TL weight 0, ``tl_logits`` = the release's 0.1 x
   MSE(logits) (loss_weight 0.1/11), ``tl_logits_x10``, ``tl_prob``, the
   same with the training flow forward-backward checked (``*_fb``: TL
   skips the pixels whose flow does not come back), and ``etc`` = SF + PF +
   MF + TL logits from one teacher, trained once: the student at twice the
   width, CE on labelled frames for ``--teacher-iters``
   (``pspnet_small_baseline_camvid_cpu.py``), then fine-tuned like an arm
   with the release's TL (``pspnet_small_teacher_tl_camvid_cpu.py``); the
   baseline and every control are also scored with their logits
   EMA-smoothed (``--ema`` alphas, ``EMASmoothedSegmentor``);
4. every model scored by the stock test loop on the 15 Hz ``val`` run
   (``camvid_cpu_15hz_test.py``: mIoU, fixed-class mTC with
   DIS ``medium``, mTC_gt = the flow's ceiling, 88.9 there, mVC_8/16) and
   for mIoU on the test split (233 frames);
5. paired differences against the control (95 % t-intervals, positive
   seeds) into ``results.json`` / ``results.md`` of ``--logs-to``.

Resumable per step like ``paired_study.py``.
"""
import argparse
import json
import math
import os
import os.path as osp
import statistics

import torch
from mmengine.config import Config
from mmseg.registry import DATASETS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.evaluation.functional import shared_class_means
from mmseg_temporal.experiments.stats import format_difference, paired_difference
from mmseg_temporal.experiments.steps import test_checkpoint
from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow

import paired_study  # train, provenance, log copies

ROOT = paired_study.ROOT
CFG = osp.join(ROOT, 'configs', 'camvid_cpu')
NUM_CLASSES = 11
ARMS = paired_study.tl_arms(NUM_CLASSES)
# The TL arms again with the training flow forward-backward checked: TL
# then skips the pixels whose 1 s-gap DIS flow does not come back (about
# 12 % on the 15 Hz run, far more on 1 s gaps; docs/evaluation.md).
FB_ARMS = {f'{arm}_fb': arm for arm in ('tl_logits', 'tl_logits_x10', 'tl_prob')}
ARMS.update({fb: ARMS[arm] for fb, arm in FB_ARMS.items()})
FLOW = dict(type='DISFlow', preset='medium')
CLASS_NAMES = DATASETS.get('CamVidVideoDataset').METAINFO['classes']
PAIRED = ('mTC', 'mTC_shared', 'mIoU_15hz', 'mIoU_test', 'mVC_8')


def camvid_cfg(name: str, work_dir: str, args, seed: int, iters: int,
               fb_check: bool = False) -> Config:
    cfg = Config.fromfile(osp.join(CFG, name))
    cache = osp.join(args.work_dir, 'flow_cache')
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = max(iters // 5, 1)
    cfg.param_scheduler[0].end = iters
    cfg.default_hooks.checkpoint.update(interval=args.ckpt_every, max_keep_ckpts=2)
    cfg.visualizer.name = f'visualizer_{osp.relpath(work_dir, args.work_dir)}'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = args.data_root
        cfg[key].num_workers = args.workers if key == 'train_dataloader' else 0
        cfg[key].persistent_workers = cfg[key].num_workers > 0
        for step in cfg[key].dataset.get('pipeline', []):
            if step['type'] == 'LoadPrecomputedFlow':
                step.update(cache_dir=cache, data_root=args.data_root)
                if fb_check:
                    cached = dict(type='PrecomputedFlow', cache_dir=cache,
                                  data_root=args.data_root)
                    step.clear()
                    step.update(type='LoadFlow', source=dict(
                        type='ForwardBackwardChecked', source=cached))
    if cfg.model.get('teacher'):
        cfg.model.teacher.config = osp.join(ROOT, cfg.model.teacher.config)
    return cfg


def fill_flow_cache(args) -> None:
    cfg = camvid_cfg('pspnet_tiny_tl_camvid_cpu.py', args.work_dir, args, 0, 1)
    ds = dict(cfg.train_dataloader.dataset.to_dict(), pipeline=[])
    pairs = DATASETS.build(ds).flow_pairs()
    if any(arm in FB_ARMS for arm in args.arms):  # the check reads both ways
        pairs = pairs + [(b, a) for a, b in pairs]
    source = PrecomputedFlow(osp.join(args.work_dir, 'flow_cache'),
                             args.data_root, on_missing='compute', estimator=FLOW)
    print(f'[camvid_study] flow cache: {source.fill(pairs)} of {len(pairs)} '
          'pairs computed', flush=True)


def score_path(run_dir: str, ema: float = None) -> str:
    """Where a run's scores (with ``ema``: its EMA-smoothed ones) are saved."""
    return osp.join(run_dir, 'score.json' if ema is None else f'score_ema{ema}.json')


def scoring_cfg(name: str, run_dir: str, args) -> Config:
    """The test config ``name`` with the student the run trained (the
    teacher is wider than the tiny student the test configs name)."""
    cfg = camvid_cfg(name, run_dir, args, 0, 1)
    trained = Config.fromfile(osp.join(run_dir, 'study_config.py')).model.student
    model = cfg.model.segmentor if 'segmentor' in cfg.model else cfg.model
    model.student = trained
    return cfg


def score(run_dir: str, ckpt: str, args, ema: float = None) -> dict:
    """The run's figures on the 15 Hz run and the test split (cached); with
    ``ema`` the model's logits EMA-smoothed (``EMASmoothedSegmentor``), on
    the 15 Hz run only (the test split's frames are 1 s apart)."""
    path = score_path(run_dir, ema)
    if osp.exists(path) and not args.rescore:
        with open(path) as f:
            return json.load(f)
    name = 'camvid_cpu_15hz_test.py' if ema is None else 'camvid_cpu_15hz_ema_test.py'
    cfg = scoring_cfg(name, run_dir, args)
    if ema is not None:
        cfg.model.alpha = ema
    sub = 'test_15hz' if ema is None else f'test_15hz_ema{ema}'
    metrics, tc = test_checkpoint(cfg, ckpt, sub, with_tc_result=True)
    m_test = dict(mIoU=float('nan'))
    if ema is None:
        test_cfg = scoring_cfg('pspnet_tiny_baseline_camvid_cpu.py', run_dir, args)
        test_cfg.test_evaluator = [dict(type='SparseIoUMetric', iou_metrics=['mIoU'])]
        m_test = test_checkpoint(test_cfg, ckpt, 'test_split')
    res = dict(mIoU_15hz=float(metrics['mIoU']), mTC=float(metrics['mTC']),
               mTC_gt=float(metrics.get('mTC_gt', float('nan'))),
               mTC_pred=float(metrics['mTC_pred']),
               mVC_8=float(metrics['mVC_8']), mVC_16=float(metrics['mVC_16']),
               mIoU_test=float(m_test['mIoU']),
               tc_per_class=[float(v) for v in tc['per_class']],
               predicted=sorted(int(c) for c in tc['predicted_classes']),
               classes=sorted(int(c) for c in tc['classes']),
               scored_on=paired_study.git_commit())
    with open(path + '.tmp', 'w') as f:
        json.dump(res, f)
    os.replace(path + '.tmp', path)
    return res


def report(scores: dict, args) -> None:
    """Means per arm and paired differences vs the control, written to
    ``--logs-to``."""
    lines = ['| model | seeds | mIoU test | mIoU 15 Hz | mTC (fixed) | mTC_pred '
             '| mVC_8 | mTC_gt (ceiling) |', '| --- ' * 8 + '|']
    groups = {}
    for name, s in scores.items():
        groups.setdefault(name.split('/')[0], []).append(s)
    for arm, rows in groups.items():
        def agg(k, rows=rows):
            v = [r[k] for r in rows]
            if any(math.isnan(x) for x in v):
                return '-'
            return f'{statistics.mean(v):.2f}' + (
                f' ± {statistics.stdev(v):.2f}' if len(v) > 1 else '')
        lines.append(f'| {arm} | {len(rows)} | ' + ' | '.join(agg(k) for k in (
            'mIoU_test', 'mIoU_15hz', 'mTC', 'mTC_pred', 'mVC_8', 'mTC_gt')) + ' |')
    lines += ['', '| arm - control | ' + ' | '.join(PAIRED) + ' |',
              '| --- ' * (len(PAIRED) + 1) + '|']
    paired = {}
    for arm in args.arms + [f'control+ema{a}' for a in args.ema]:
        seeds = [s for s in args.seeds if f'{arm}/seed{s}' in scores
                 and f'control/seed{s}' in scores and arm != 'control']
        if not seeds:
            continue
        a = [scores[f'{arm}/seed{s}'] for s in seeds]
        c = [scores[f'control/seed{s}'] for s in seeds]
        for x, y in zip(a, c):  # mTC over the classes both models predict
            (x['mTC_shared'], y['mTC_shared']), _ = shared_class_means(
                [x['tc_per_class'], y['tc_per_class']],
                [x['predicted'], y['predicted']], classes=x['classes'])
        paired[arm] = {m: paired_difference([x[m] for x in a], [y[m] for y in c])
                       for m in PAIRED if not any(math.isnan(x[m]) for x in a + c)}
        lines.append(f'| {arm} | ' + ' | '.join(
            format_difference(paired[arm].get(m)) for m in PAIRED) + ' |')
    lines += ['', '| TC per class (mean over seeds) | ' + ' | '.join(CLASS_NAMES) + ' |',
              '| --- ' * (NUM_CLASSES + 1) + '|']
    for arm, rows in groups.items():
        per_class = [statistics.mean(r['tc_per_class'][c] for r in rows)
                     for c in range(NUM_CLASSES)]
        lines.append(f'| {arm} | ' + ' | '.join(f'{v:.1f}' for v in per_class) + ' |')
    os.makedirs(args.logs_to, exist_ok=True)
    with open(osp.join(args.logs_to, 'results.json'), 'w') as f:
        json.dump(dict(scores=scores, paired=paired), f, indent=1)
    with open(osp.join(args.logs_to, 'results.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines), flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-root', default=osp.join(ROOT, '..', 'shared', 'data', 'camvid'))
    p.add_argument('--work-dir', default='work_dirs/camvid_study')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    p.add_argument('--arms', nargs='+', default=[
        'control', 'tl_logits_x10', 'tl_logits_x10_fb', 'tl_logits', 'etc'],
                   choices=list(ARMS))
    p.add_argument('--baseline-iters', type=int, default=1500)
    p.add_argument('--finetune-iters', type=int, default=300)
    p.add_argument('--teacher-iters', type=int, default=3000)
    p.add_argument('--ema', type=float, nargs='*', default=[0.3, 0.5, 0.7],
                   help="EMA alphas scored on the baseline and each seed's control")
    p.add_argument('--ckpt-every', type=int, default=50)
    p.add_argument('--logs-to', default=osp.join(ROOT, 'benchmarks',
                                                 'camvid_paired_study_logs'))
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--rescore', action='store_true')
    p.add_argument('--report-only', action='store_true',
                   help='rebuild the tables from the saved scores')
    args = p.parse_args(argv)
    args.data_root = osp.abspath(args.data_root)
    args.work_dir = osp.abspath(args.work_dir)
    args.logs_to = osp.abspath(args.logs_to)
    return args


def saved_scores(args) -> dict:
    """The scores on disk, under the names the study gives them."""
    scores = {}
    runs = [('baseline', 'baseline'), ('teacher_base', 'teacher_base'),
            ('teacher', 'teacher')] + [
        (f'seed{s}/{a}', f'{a}/seed{s}') for s in args.seeds for a in args.arms]
    for run, name in runs:
        path = score_path(osp.join(args.work_dir, run))
        if osp.exists(path):
            with open(path) as f:
                scores[name] = json.load(f)
        for alpha in args.ema if run == 'baseline' or run.endswith('/control') else ():
            path = score_path(osp.join(args.work_dir, run), alpha)
            if osp.exists(path):
                with open(path) as f:
                    stem, _, seed = name.partition('/')
                    scores[f'{stem}+ema{alpha}' + (f'/{seed}' if seed else '')] = json.load(f)
    return scores


def main(argv=None):
    args = parse_args(argv)
    if args.report_only:
        return report(saved_scores(args), args)
    torch.set_num_threads(args.threads)
    if not osp.isdir(osp.join(args.data_root, 'val')):
        raise SystemExit(f'CamVid not found at {args.data_root} (expected '
                         'train/, val/, test/ and their *annot/ folders)')
    fill_flow_cache(args)
    base = camvid_cfg('pspnet_tiny_baseline_camvid_cpu.py',
                      osp.join(args.work_dir, 'baseline'), args, 0, args.baseline_iters)
    base_ckpt = paired_study.train(base, 'baseline', args)
    score_run(base.work_dir, base_ckpt, args, with_ema=True)
    teacher_ckpt = train_teacher(args) if 'etc' in args.arms else None
    for seed in args.seeds:  # seed-major: a cut-off run leaves paired seeds
        for arm in args.arms:
            cfg = arm_cfg(arm, seed, args, base_ckpt, teacher_ckpt)
            ckpt = paired_study.train(cfg, f'seed{seed}_{arm}', args)
            score_run(cfg.work_dir, ckpt, args, with_ema=arm == 'control')
            report(saved_scores(args), args)


def train_teacher(args) -> str:
    """The ETC arms' teacher: twice the student's width, CE on labelled
    frames for ``--teacher-iters``, then ``--finetune-iters`` on triplets
    with the release's TL (as the ``tl_logits`` arm); both stages scored."""
    base = camvid_cfg('pspnet_small_baseline_camvid_cpu.py',
                      osp.join(args.work_dir, 'teacher_base'), args, 0, args.teacher_iters)
    base_ckpt = paired_study.train(base, 'teacher_base', args)
    score_run(base.work_dir, base_ckpt, args)
    teacher = camvid_cfg('pspnet_small_teacher_tl_camvid_cpu.py',
                         osp.join(args.work_dir, 'teacher'), args, 0, args.finetune_iters)
    teacher.model.losses = dict(ARMS['tl_logits'])
    teacher.load_from = base_ckpt
    ckpt = paired_study.train(teacher, 'teacher', args)
    score_run(teacher.work_dir, ckpt, args)
    return ckpt


def score_run(run_dir: str, ckpt: str, args, with_ema: bool = False) -> None:
    """Scores a run (and with ``with_ema`` its EMA-smoothed variants, one
    per ``--ema`` alpha); :func:`saved_scores` reads them back."""
    score(run_dir, ckpt, args)
    for alpha in args.ema if with_ema else ():
        score(run_dir, ckpt, args, ema=alpha)


def arm_cfg(arm: str, seed: int, args, base_ckpt: str,
            teacher_ckpt: str = None) -> Config:
    """One arm's fine-tune from the baseline: only the loss terms and, for
    the ``*_fb`` arms, the training flow's mask differ from the control."""
    name = 'pspnet_tiny_etc_camvid_cpu.py' if arm == 'etc' else \
        'pspnet_tiny_tl_camvid_cpu.py'
    cfg = camvid_cfg(name, osp.join(args.work_dir, f'seed{seed}', arm), args,
                     seed, args.finetune_iters, fb_check=arm in FB_ARMS)
    if arm == 'etc':
        cfg.model.teacher.checkpoint = teacher_ckpt
        cfg.model.losses.tl = dict(ARMS['tl_logits']['tl'])
    else:
        cfg.model.losses = dict(ARMS[arm])
    cfg.load_from = base_ckpt
    return cfg

if __name__ == '__main__':
    main()
