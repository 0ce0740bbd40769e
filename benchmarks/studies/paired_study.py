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
3. every model (and the baseline smoothed with an EMA over its logits) is
   scored by one scorer (``_synthetic_scoring.py``) on ``--test-videos`` test
   videos with the exact flow; ``_synthetic_report.py`` turns the saved counts
   into the paired differences (95 % t-intervals, positive-seed counts).

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

from mmseg_temporal.experiments import study_config
from mmseg_temporal.experiments.records import git_commit, write_json

import _synthetic_report as study_report
import _synthetic_scoring as study_scoring
from _harness import ROOT, absolute_paths, study_parser, tl_arms, train

SYN = osp.join(ROOT, 'configs', 'synthetic')
NUM_CLASSES = study_scoring.NUM_CLASSES

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
              val_every: int) -> Config:
    """A synthetic config set to the study's data, schedule and seed."""
    cfg = study_config(osp.join(SYN, name), work_dir, seed, iters,
                       data_root=args.data_root, val_every=val_every,
                       ckpt_every=args.ckpt_every, log_every=25, workers=args.workers,
                       run_name=osp.relpath(work_dir, args.work_dir), repo_root=ROOT)
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


def score(run_dir: str, ckpt: str, split, args, ema=(), out='score.json') -> None:
    path = osp.join(run_dir, out)
    if osp.exists(path) and not args.rescore:
        return
    t0 = time.time()
    res = study_scoring.score_checkpoint(
        split, osp.join(run_dir, 'study_config.py'), ckpt, ema)
    res = dict(variants=res, checkpoint=ckpt, scored_on=git_commit(),
               score_s=round(time.time() - t0, 1))
    write_json(path, res)
    print(f'[paired_study] {time.strftime("%T")} scored {run_dir} '
          f'({res["score_s"]} s)', flush=True)


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
    test_split = study_scoring.split_of(base_cfg, 'test', args.test_videos)
    gt = osp.join(args.work_dir, 'ground_truth.json')
    if not osp.exists(gt) or args.rescore:
        write_json(gt, study_scoring.ground_truth_scores(test_split))
    score(base_cfg.work_dir, base_ckpt, test_split, args, args.ema)
    score(base_cfg.work_dir, base_ckpt, study_scoring.split_of(
        base_cfg, 'train', args.train_videos), args, out='score_train.json')
    report(args)
    teacher_ckpt = None
    for arm in args.arms:
        if arm in ('etc', 'teacher') and teacher_ckpt is None:
            t_cfg = teacher_cfg(args)
            teacher_ckpt = train(t_cfg, 'teacher', args)
            score(t_cfg.work_dir, teacher_ckpt, test_split, args)
            report(args)
        if arm == 'teacher':
            continue
        for seed in args.seeds:
            cfg = arm_cfg(arm, seed, args, base_ckpt, teacher_ckpt)
            ckpt = train(cfg, f'seed{seed}_{arm}', args)
            score(cfg.work_dir, ckpt, test_split, args,
                  args.ema if arm == 'control' else ())
            report(args)
    print(f'[paired_study] {time.strftime("%T")} done', flush=True)


if __name__ == '__main__':
    main()
