"""Paired, multi-seed study of the temporal terms on the synthetic video.

    OMP_NUM_THREADS=1 python benchmarks/studies/paired_study.py \\
        [--work-dir work_dirs/paired_study] [--seeds 0 1 2 3 4] \\
        [--arms control tl_logits etc tl_logits_x10 tl_prob] \\
        [--baseline-iters 1500] [--finetune-iters 200] [--teacher-iters 800] \\
        [--test-videos 10] [--logs-to benchmarks/paired_study_logs]

Design (issue 12, items 1, 2 and 7a):

1. one single-frame baseline student (CE only, inside the
   TemporalDistillSegmentor so its checkpoint has the arms' keys), trained
   to convergence; its validation mIoU against iterations is the
   convergence report;
2. for every seed, every arm starts from that checkpoint (``load_from``)
   and is fine-tuned for the same iterations on the same triplet pipeline
   with the same seed (same batches), differing only in the loss terms:
   ``control`` is TL with weight 0, the TL arms set its form and weight, and
   ``etc`` adds SF + PF + MF from one teacher (trained once, shared);
3. every model (and the baseline and the controls smoothed with an EMA
   over their logits, ``EMASmoothedSegmentor``) is scored by the stock test
   loop of ``pspnet_tiny_baseline_video_synthetic.py`` with the student the
   run trained (the harness's ``test_figures``): ``--test-videos`` test
   videos, every frame labelled, ``SparseIoUMetric`` (mIoU, and
   ``mIoU_fast`` on the frames whose fastest object is in the split's top
   quarter of speed), ``TemporalConsistencyMetric`` with the exact flow
   (ground truth scores 100) and ``VideoConsistencyMetric``;
   ``_synthetic_report.py`` turns the saved figures into the paired
   differences (95 % t-intervals, positive-seed counts).

Resumable per step: a finished training (``iter_<N>.pth``) is not trained
again, a killed one resumes from its last checkpoint, a scored model is
not scored again (``--rescore`` forces it). Each run directory records the
commit it was trained on (``provenance.json``). Logs and the results are
copied to ``--logs-to`` after every step.
"""
import json
import os.path as osp
import time

import torch
from mmengine.config import Config

from mmseg_temporal.datasets.synthetic_video import SYNTHETIC_CLASSES
from mmseg_temporal.experiments import study_config
from mmseg_temporal.experiments.records import cached_json, git_commit

import _synthetic_report as study_report
from _harness import ROOT, absolute_paths, study_parser, test_figures, tl_arms, train

SYN = osp.join(ROOT, 'configs', 'synthetic')
NUM_CLASSES = len(SYNTHETIC_CLASSES)
#: the config whose test loop scores every model of the study
TEST_CONFIG = 'pspnet_tiny_baseline_video_synthetic.py'

ARMS = tl_arms(NUM_CLASSES)
_TL_RELEASE = ARMS['tl_logits']['tl']
# --arms may also name 'teacher': train and score the teacher at that point
# (it is otherwise trained before the first 'etc' arm).
STEPS = list(ARMS) + ['teacher']
ARM_LABELS = {
    'control': 'control (TL weight 0, triplets)',
    'tl_logits': '+TL logits (release: 0.1 x MSE)',
    'tl_logits_x10': '+TL logits x10',
    'tl_prob': '+TL prob (paper Eq. 1, lambda 0.1)',
    'etc': '+ALL (SF+PF+MF+TL logits, teacher)',
}


def study_cfg(name: str, work_dir: str, args, seed: int, iters: int,
              val_every: int, precision: str = None) -> Config:
    """A synthetic config set to the study's data, schedule and seed
    (``precision``: of training, default ``--precision``)."""
    cfg = study_config(osp.join(SYN, name), work_dir, seed, iters,
                       data_root=args.data_root, val_every=val_every,
                       ckpt_every=args.ckpt_every, log_every=25, workers=args.workers,
                       run_name=osp.relpath(work_dir, args.work_dir), repo_root=ROOT,
                       precision=precision or args.precision)
    sizes = dict(train_dataloader=args.train_videos,
                 val_dataloader=args.val_videos,
                 test_dataloader=args.test_videos)
    for key, n in sizes.items():
        cfg[key].dataset.num_videos = n
        if args.nuisance is not None:
            cfg[key].dataset.nuisance = args.nuisance
    # validation on every second frame of the val videos
    cfg.val_dataloader.dataset.update(label_start=0, label_interval=2)
    return cfg


def teacher_cfg(args) -> Config:
    """The study's teacher: the wider PSPNet of
    ``pspnet_small_teacher_tl_synthetic.py`` trained on single labelled
    frames with CE only (on triplets with TL it takes about 4 s an
    iteration on this machine's shared cores, a single frame about 1 s)."""
    cfg = study_cfg('pspnet_small_teacher_tl_synthetic.py',
                    osp.join(args.work_dir, 'teacher'), args, 0,
                    args.teacher_iters, max(args.teacher_iters // 4, 1))
    labelled = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'datasets',
                                        'synthetic_labelled.py'))
    cfg.train_dataloader.dataset.update(sample_mode='labelled',
                                        pipeline=labelled.train_pipeline)
    cfg.model.losses = dict()
    return cfg


def arm_cfg(arm: str, seed: int, args, baseline_ckpt: str,
            teacher_ckpt: str = None) -> Config:
    wd = osp.join(args.work_dir, f'seed{seed}', arm)
    if arm == 'etc':
        cfg = study_cfg('pspnet_tiny_etc_synthetic.py', wd, args, seed,
                        args.finetune_iters, args.finetune_iters)
        cfg.model.teacher.checkpoint = teacher_ckpt
        cfg.model.losses.tl = dict(_TL_RELEASE)
    else:
        cfg = study_cfg('pspnet_tiny_tl_synthetic.py', wd, args, seed,
                        args.finetune_iters, args.finetune_iters)
        cfg.model.losses = dict(ARMS[arm])
    cfg.load_from = baseline_ckpt
    return cfg


#: flow sources of motion-compensated EMA (``--mcema-flow``): DIS as users
#: run it, or the video's exact flow (the best a flow could do)
MCEMA_FLOWS = dict(fast=dict(type='DISFlow', preset='fast'),
                   medium=dict(type='DISFlow', preset='medium'),
                   ultrafast=dict(type='DISFlow', preset='ultrafast'),
                   exact=dict(type='SyntheticExactFlow'))


def scoring_cfg(run_dir: str, args, ema: float = None, split: str = 'test',
                motion: bool = False) -> Config:
    """:data:`TEST_CONFIG`'s test loop with the student the run trained;
    ``ema``: its logits smoothed by ``EMASmoothedSegmentor`` (``motion``:
    motion-compensated, flow ``--mcema-flow``); ``split`` ``'train'``: on
    the ``--train-videos`` training videos instead."""
    cfg = study_cfg(TEST_CONFIG, run_dir, args, 0, 1, 1, precision='fp32')
    cfg.model.student = Config.fromfile(osp.join(run_dir, 'study_config.py')).model.student
    if split != 'test':
        cfg.test_dataloader.dataset.update(split=split, num_videos=args.train_videos)
    if ema is not None:
        cfg.model = dict(type='EMASmoothedSegmentor', alpha=ema, segmentor=cfg.model)
        if motion:
            cfg.model['motion'] = MCEMA_FLOWS[args.mcema_flow]
    return cfg


def score(run_dir: str, ckpt: str, args, ema: float = None, split: str = 'test',
          motion: bool = False) -> dict:
    """A run's figures (cached in ``score[_ema<a>|_mcema<a>][_<split>].json``;
    motion-compensated EMA with another flow than DIS ``fast``:
    ``_mcema<a>-<flow>``)."""
    name = 'score' + ('' if ema is None else f'_{"mc" if motion else ""}ema{ema}') + (
        f'-{args.mcema_flow}' if motion and args.mcema_flow != 'fast' else '') + (
        '' if split == 'test' else f'_{split}')

    def compute():
        t0 = time.time()
        cfg = scoring_cfg(run_dir, args, ema, split, motion)
        res = test_figures(cfg, ckpt, name)
        res.update(checkpoint=ckpt, score_s=round(time.time() - t0, 1),
                   videos=cfg.test_dataloader.dataset.num_videos)
        print(f'[paired_study] {time.strftime("%T")} scored {run_dir} {name} '
              f'({res["score_s"]} s)', flush=True)
        return res
    return cached_json(osp.join(run_dir, f'{name}.json'), compute, args.rescore,
                       required=('mIoU', 'tc_per_class'))


def score_smoothed(run_dir: str, ckpt: str, args) -> None:
    """The EMA variants of a model (``--ema``, ``--mcema``)."""
    for alpha in args.ema:
        score(run_dir, ckpt, args, alpha)
    for alpha in args.mcema:
        score(run_dir, ckpt, args, alpha, motion=True)


def report(args) -> None:
    res = study_report.build(args.work_dir, args.seeds, list(ARMS), ARM_LABELS)
    study_report.write(res, args.logs_to)


def parse_args(argv=None):
    p = study_parser(__doc__, 'work_dirs/paired_study', 'paired_study_logs', 50)
    p.add_argument('--arms', nargs='*', default=list(ARMS), choices=STEPS,
                   help='none: the baseline alone')
    p.add_argument('--nuisance', type=json.loads, default=None,
                   help='synthetic video nuisance options as JSON (default: '
                        "the configs'), e.g. '{}' (the clean video of "
                        "docs/results.md section 1) or "
                        '\'{"appearance_overlap": 0.5, "small_objects": [2, 6]}\' '
                        '(use a work dir of its own)')
    p.add_argument('--baseline-iters', type=int, default=1500)
    p.add_argument('--baseline-val-every', type=int, default=150)
    p.add_argument('--finetune-iters', type=int, default=200)
    p.add_argument('--teacher-iters', type=int, default=800)
    p.add_argument('--train-videos', type=int, default=8)
    p.add_argument('--val-videos', type=int, default=4)
    p.add_argument('--test-videos', type=int, default=10)
    p.add_argument('--ema', type=float, nargs='*', default=[0.3, 0.5, 0.7])
    p.add_argument('--mcema', type=float, nargs='*', default=[],
                   help='alphas of motion-compensated EMA scored beside --ema '
                        '(baseline and controls)')
    p.add_argument('--mcema-flow', choices=sorted(MCEMA_FLOWS), default='fast')
    return absolute_paths(p.parse_args(argv))


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.report_only:
        return report(args)
    print(f'[paired_study] code at {ROOT} (commit {git_commit()})', flush=True)
    base_cfg = study_cfg('pspnet_tiny_baseline_video_synthetic.py',
                         osp.join(args.work_dir, 'baseline'), args, 0,
                         args.baseline_iters, args.baseline_val_every)
    base_ckpt = train(base_cfg, 'baseline', args)
    score(base_cfg.work_dir, base_ckpt, args)
    score_smoothed(base_cfg.work_dir, base_ckpt, args)
    score(base_cfg.work_dir, base_ckpt, args, split='train')
    report(args)
    teacher_ckpt = None
    for arm in args.arms:
        if arm in ('etc', 'teacher') and teacher_ckpt is None:
            t_cfg = teacher_cfg(args)
            teacher_ckpt = train(t_cfg, 'teacher', args)
            score(t_cfg.work_dir, teacher_ckpt, args)
            report(args)
        if arm == 'teacher':
            continue
        for seed in args.seeds:
            cfg = arm_cfg(arm, seed, args, base_ckpt, teacher_ckpt)
            ckpt = train(cfg, f'seed{seed}_{arm}', args)
            score(cfg.work_dir, ckpt, args)
            if arm == 'control':
                score_smoothed(cfg.work_dir, ckpt, args)
            report(args)
    print(f'[paired_study] {time.strftime("%T")} done', flush=True)


if __name__ == '__main__':
    main()
