"""Paired, multi-seed CamVid study (issue 12, item 7b): the protocol of
``paired_study.py`` on real video, on the CPU.

    OMP_NUM_THREADS=1 python benchmarks/studies/camvid_study.py \\
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
import os.path as osp

import torch
from mmengine.config import Config

from _camvid import CAMVID_CLASSES, CAMVID_ROOT, camvid_cfg, fill_flow_cache, report, score_run
from _harness import (
    absolute_paths,
    read_scores,
    score_path,
    study_parser,
    tl_arms,
    train,
    with_fb_arms,
)

ARMS = with_fb_arms(tl_arms(CAMVID_CLASSES))


def parse_args(argv=None):
    p = study_parser(__doc__, 'work_dirs/camvid_study', 'camvid_paired_study_logs', 50,
                     data_root=CAMVID_ROOT)
    p.add_argument('--arms', nargs='+', default=[
        'control', 'tl_logits_x10', 'tl_logits_x10_fb', 'tl_logits', 'etc'],
                   choices=list(ARMS))
    p.add_argument('--baseline-iters', type=int, default=1500)
    p.add_argument('--finetune-iters', type=int, default=300)
    p.add_argument('--teacher-iters', type=int, default=3000)
    p.add_argument('--ema', type=float, nargs='*', default=[0.3, 0.5, 0.7],
                   help="EMA alphas scored on the baseline and each seed's control")
    return absolute_paths(p.parse_args(argv))


def saved_scores(args) -> dict:
    """The scores on disk, under the names the study gives them."""
    def named_paths():
        runs = [('baseline', 'baseline'), ('teacher_base', 'teacher_base'),
                ('teacher', 'teacher')] + [
            (f'seed{s}/{a}', f'{a}/seed{s}') for s in args.seeds for a in args.arms]
        for run, name in runs:
            yield name, score_path(osp.join(args.work_dir, run))
            stem, _, seed = name.partition('/')
            for alpha in args.ema if run == 'baseline' or run.endswith('/control') else ():
                yield (f'{stem}+ema{alpha}' + (f'/{seed}' if seed else ''),
                       score_path(osp.join(args.work_dir, run), alpha))
    return read_scores(named_paths())


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
    base_ckpt = train(base, 'baseline', args)
    score_run(base.work_dir, base_ckpt, args, with_ema=True)
    teacher_ckpt = train_teacher(args) if 'etc' in args.arms else None
    for seed in args.seeds:  # seed-major: a cut-off run leaves paired seeds
        for arm in args.arms:
            cfg = arm_cfg(arm, seed, args, base_ckpt, teacher_ckpt)
            ckpt = train(cfg, f'seed{seed}_{arm}', args)
            score_run(cfg.work_dir, ckpt, args, with_ema=arm == 'control')
            report(saved_scores(args), args)


def train_teacher(args) -> str:
    """The ETC arms' teacher: twice the student's width, CE on labelled
    frames for ``--teacher-iters``, then ``--finetune-iters`` on triplets
    with the release's TL (as the ``tl_logits`` arm); both stages scored."""
    base = camvid_cfg('pspnet_small_baseline_camvid_cpu.py',
                      osp.join(args.work_dir, 'teacher_base'), args, 0, args.teacher_iters)
    base_ckpt = train(base, 'teacher_base', args)
    score_run(base.work_dir, base_ckpt, args)
    teacher = camvid_cfg('pspnet_small_teacher_tl_camvid_cpu.py',
                         osp.join(args.work_dir, 'teacher'), args, 0, args.finetune_iters)
    teacher.model.losses = dict(ARMS['tl_logits'])
    teacher.load_from = base_ckpt
    ckpt = train(teacher, 'teacher', args)
    score_run(teacher.work_dir, ckpt, args)
    return ckpt


def arm_cfg(arm: str, seed: int, args, base_ckpt: str,
            teacher_ckpt: str = None) -> Config:
    """One arm's fine-tune from the baseline: only the loss terms and, for
    the ``*_fb`` arms, the training flow's mask differ from the control."""
    name = 'pspnet_tiny_etc_camvid_cpu.py' if arm == 'etc' else \
        'pspnet_tiny_tl_camvid_cpu.py'
    cfg = camvid_cfg(name, osp.join(args.work_dir, f'seed{seed}', arm), args,
                     seed, args.finetune_iters, fb_check=arm.endswith('_fb'))
    if arm == 'etc':
        cfg.model.teacher.checkpoint = teacher_ckpt
        cfg.model.losses.tl = dict(ARMS['tl_logits']['tl'])
    else:
        cfg.model.losses = dict(ARMS[arm])
    cfg.load_from = base_ckpt
    return cfg

if __name__ == '__main__':
    main()
