"""Paired, multi-seed study of anti-aliased students on CamVid 15 Hz
(issue 23, item 5): architecture arms trained from scratch.

    OMP_NUM_THREADS=2 python benchmarks/studies/antialias_study.py --threads 2 \\
        [--work-dir work_dirs/camvid_study] [--seeds 0 1 2 3 4] \\
        [--arms plain antialiased] [--iters 1500] [--student tiny|mobilenetv2|small]

Per seed, every arm trains the single-frame baseline config
(``pspnet_tiny_baseline_camvid_cpu.py``: CE on labelled frames, 1500
iterations of 4 crops) from scratch with the same seed, hence the same
batches, augmentations and (since the anti-aliased backbones restore the
random stream after their build, session 11) initial weights; the runs
recorded before that fix started from different draws, so their paired
intervals also carry the spread of the initialisation. The
arms differ only in the backbone: ``plain`` = ``ResNetV1c`` (``--student
mobilenetv2``: ``mobilenetv2_tiny_baseline_camvid_cpu.py``, a MobileNetV2-D8
at widen factor 0.5, and ``MobileNetV2``; ``--student small``: the CPU
teacher's twice-wider ``pspnet_small_baseline_camvid_cpu.py``),
``antialiased`` = ``AntiAliasedResNetV1c`` (every stride-2 convolution and
max-pool evaluated densely, blurred and subsampled; ``antialiased_blur5``:
with a 5-tap blur instead of 3; ``antialiased_blur5_first``: 5 taps in the
cheaper ``blur_first`` form, strided convolutions blur their input and keep
their stride). Every model is scored
like ``camvid_study.py``'s (stock test loop on the 15 Hz run: mIoU, mTC
over the fixed 11 classes with DIS ``medium`` and its ceiling, mTC_pred,
mVC_8; mIoU on the test split) and, with ``--ema``, with its logits
EMA-smoothed: do anti-aliasing and smoothing stack? ``--extra`` adds, per
run, the motion-consistency loop (``mc``: mMC, the consistency of each
frame with itself moved by a known small camera motion, beside real mTC in
one test loop) and motion-compensated EMA (``mcema<alpha>``: the past
warped by DIS ``fast`` flow before blending). Paired differences against
``plain`` of the same seed go to ``--logs-to``, with the scatter of mMC
against real mTC over every model. Resumable: a run with its last
checkpoint and its scores on disk is not redone, and on a fresh clone the
scores recorded in ``--logs-to``'s ``results.json`` are written back first,
so their runs are not trained again (unless ``--extra`` asks for loops that
need the checkpoint).
"""
import argparse
import json
import os
import os.path as osp

import torch

from mmseg_temporal.experiments.records import cached_json, restore_scores
from mmseg_temporal.experiments.stats import format_difference, paired_difference
from mmseg_temporal.visualization import plot_scatter

import _camvid
from _camvid import CAMVID_ROOT, PAIRED, camvid_cfg, score_run, scoring_cfg
from _harness import (
    ROOT,
    absolute_paths,
    antialias_arm,
    read_scores,
    score_path,
    set_shared_tc,
    study_parser,
    test_figures,
    train,
)

# --student: its training config (the plain arm; the anti-aliased arms use
# AntiAliased<its backbone>)
STUDENTS = dict(tiny='pspnet_tiny_baseline_camvid_cpu.py',
                mobilenetv2='mobilenetv2_tiny_baseline_camvid_cpu.py',
                small='pspnet_small_baseline_camvid_cpu.py')
# arm -> options of the anti-aliased backbone beyond its defaults (3-tap
# blur, the studied form); None: the plain backbone
ARMS = dict(plain=None, antialiased={}, antialiased_blur5=dict(blur_size=5),
            antialiased_blur5_first=dict(blur_size=5, blur_first=True))
# --extra: name -> (test config, EMA alpha, DIS preset of the mc-EMA flow:
# None = the config's, fast)
EXTRA = {'mc': ('camvid_cpu_15hz_motion_consistency_test.py', None, None),
         'mcema0.3': ('camvid_cpu_15hz_mcema_test.py', 0.3, None),
         'mcema0.5': ('camvid_cpu_15hz_mcema_test.py', 0.5, None),
         'mcema0.5-medium': ('camvid_cpu_15hz_mcema_test.py', 0.5, 'medium')}


def runs(args):
    """``(seed, arm, run folder)`` of every run, seed-major."""
    for seed in args.seeds:
        for arm in args.arms:
            yield seed, arm, osp.join(args.work_dir, 'scratch', f'seed{seed}', arm)


def arm_cfg(arm: str, seed: int, args):
    return antialias_arm(camvid_cfg(
        STUDENTS[args.student], osp.join(args.work_dir, 'scratch', f'seed{seed}', arm), args,
        seed, args.iters), ARMS[arm])


def run_name(arm: str, seed: int, ema: float = None) -> str:
    return f'{arm}' + (f'+ema{ema}' if ema is not None else '') + f'/seed{seed}'


def score_extra(run_dir: str, ckpt: str, kind: str, args) -> dict:
    """The ``--extra`` loop ``kind`` of a run (cached in
    ``score_<kind>.json``): every scalar metric and TC per class."""
    def compute() -> dict:
        name, alpha, preset = EXTRA[kind]
        cfg = scoring_cfg(name, run_dir, args)
        if alpha is not None:
            cfg.model.alpha = alpha
        if preset is not None:
            cfg.model.motion.preset = preset
        return test_figures(cfg, ckpt, f'test_15hz_{kind}')
    return cached_json(osp.join(run_dir, f'score_{kind}.json'), compute, args.rescore)


def extra_scores(args) -> dict:
    """``{run_name: {kind: scores}}`` of the ``--extra`` loops on disk."""
    out = {}
    found = read_scores(((run_name(arm, seed), kind), osp.join(run_dir, f'score_{kind}.json'))
                        for seed, arm, run_dir in runs(args) for kind in EXTRA)
    for (name, kind), figures in found.items():
        out.setdefault(name, {})[kind] = figures
    return out


def smoothing_rows(scores: dict, extra: dict, args) -> list:
    """Paired rows of each motion-compensated EMA loop (alpha a): against
    the same model unsmoothed, with plain EMA a, against plain + EMA a and
    against plain + EMA 0.7, the goal's bar (mTC and the 15 Hz run's mIoU;
    rows where two or more seeds have both)."""
    rows = ['', '| --extra: smoothing | seeds | mTC | mIoU_15hz |', '| --- ' * 4 + '|']
    for kind in [k for k in EXTRA if k.startswith('mcema')]:
        alpha = EXTRA[kind][1]
        for arm in args.arms:
            refs = list(dict.fromkeys([(arm, None), (arm, alpha), ('plain', alpha),
                                       ('plain', 0.7)]))
            for ref_arm, ref_ema in refs:
                pairs = [(extra.get(run_name(arm, s), {}).get(kind),
                          scores.get(run_name(ref_arm, s, ref_ema))) for s in args.seeds]
                pairs = [p for p in pairs if None not in p]
                if len(pairs) < 2:
                    continue
                cells = [format_difference(paired_difference(
                    [a[key] for a, _ in pairs], [b[ref_key] for _, b in pairs]))
                    for key, ref_key in (('mTC', 'mTC'), ('mIoU', 'mIoU_15hz'))]
                ref = ref_arm + ('' if ref_ema is None else f'+ema{ref_ema}')
                rows.append(f'| {arm}+{kind} - {ref} | {len(pairs)} | ' + ' | '.join(cells) + ' |')
    return rows if len(rows) > 3 else []


def report_extra(scores: dict, extra: dict, args) -> list:
    """Rows: paired mMC and motion-compensated EMA against ``plain``, and
    the scatter of mMC against real mTC (``mc_vs_tc.png`` in ``--logs-to``)."""
    rows = ['', '| --extra: arm - plain | seeds | mMC | mMC_shift1 | mMC_shift16 |'
            ' mTC (mcema0.3) | mTC (mcema0.5) |', '| --- ' * 7 + '|']
    keys = [('mc', 'mMC'), ('mc', 'mMC_shift1'), ('mc', 'mMC_shift16'),
            ('mcema0.3', 'mTC'), ('mcema0.5', 'mTC')]
    for arm in args.arms[1:]:  # against plain
        seeds = [s for s in args.seeds if run_name('plain', s) in extra
                 and run_name(arm, s) in extra]
        cells = []
        for kind, key in keys:
            pairs = [(extra[run_name(arm, s)].get(kind, {}).get(key),
                      scores.get(run_name('plain', s), {}).get('mTC') if kind != 'mc'
                      else extra[run_name('plain', s)].get(kind, {}).get(key))
                     for s in seeds]
            pairs = [p for p in pairs if None not in p]
            cells.append(format_difference(paired_difference(
                [a for a, _ in pairs], [b for _, b in pairs])) if len(pairs) > 1 else '-')
        rows.append(f'| {arm} | {len(seeds)} | ' + ' | '.join(cells) + ' |')
    rows += smoothing_rows(scores, extra, args)
    rows += ['', '| model (mMC vs real TC) | mMC | mTC | mMC_pred | mTC_pred |',
             '| --- ' * 5 + '|']
    for name, kinds in sorted(extra.items()):
        if 'mc' in kinds:
            mc = kinds['mc']
            rows.append(f"| {name} | {mc['mMC']:.2f} | {mc['mTC']:.2f} | "
                        f"{mc['mMC_pred']:.2f} | {mc['mTC_pred']:.2f} |")
    groups = {arm: [(extra[run_name(arm, s)]['mc']['mMC'], scores[run_name(arm, s)]['mTC'])
                    for s in args.seeds if 'mc' in extra.get(run_name(arm, s), {})
                    and run_name(arm, s) in scores] for arm in args.arms}
    if sum(len(v) for v in groups.values()) >= 2:
        plot_scatter(groups, osp.join(args.logs_to, 'mc_vs_tc.png'),
                     xlabel='mMC: each frame vs itself under a known camera motion (%)',
                     ylabel='real mTC, CamVid 15 Hz, DIS medium (%)',
                     title='motion consistency vs real temporal consistency')
    return rows


def run_score_files(seed: int, arm: str, run_dir: str, args):
    """``(name, path)`` of the scores one run saves (``--extra``'s apart)."""
    for ema in [None] + list(args.ema):
        yield run_name(arm, seed, ema), score_path(run_dir, ema)


def score_files(args):
    for seed, arm, run_dir in runs(args):
        yield from run_score_files(seed, arm, run_dir, args)


def saved_scores(args) -> dict:
    return read_scores(score_files(args))


def report(scores: dict, args) -> None:
    """Per-arm means (``_camvid.report``'s table) and paired
    differences of every arm and smoothing against ``plain``."""
    rows = ['| arm - plain | seeds | ' + ' | '.join(PAIRED) + ' |',
            '| --- ' * (len(PAIRED) + 2) + '|']
    paired = {}
    for arm in args.arms:
        for ema in [None] + list(args.ema):
            name = run_name(arm, 0, ema).rsplit('/', 1)[0]
            if name == 'plain':
                continue
            seeds = [s for s in args.seeds if run_name(arm, s, ema) in scores
                     and run_name('plain', s) in scores]
            if not seeds:
                continue
            pairs = [(dict(scores[run_name(arm, s, ema)]), dict(scores[run_name('plain', s)]))
                     for s in seeds]
            for x, y in pairs:
                set_shared_tc(x, y)
            paired[name] = {m: paired_difference([x[m] for x, _ in pairs],
                                                 [y[m] for _, y in pairs])
                            for m in PAIRED if not any(
                                v[m] != v[m] for pair in pairs for v in pair)}
            rows.append(f'| {name} | {len(seeds)} | ' + ' | '.join(
                format_difference(paired[name].get(m)) for m in PAIRED) + ' |')
    rows += ['', '| arm - smoothed plain (or the 3-tap arm) | seeds | mTC | mIoU_15hz |',
             '| --- ' * 4 + '|']
    refs = (('', 'plain+ema0.3'), ('', 'plain+ema0.5'), ('+ema0.3', 'plain+ema0.5'),
            ('+ema0.3', 'plain+ema0.7'), ('', 'antialiased'))
    for arm, ctrl in [(a + sm, ctrl) for a in args.arms[1:] for sm, ctrl in refs
                      if ctrl != a]:
        seeds = [s for s in args.seeds if f'{arm}/seed{s}' in scores
                 and f'{ctrl}/seed{s}' in scores]
        if len(seeds) > 1:
            rows.append(f'| {arm} - ({ctrl}) | {len(seeds)} | ' + ' | '.join(
                format_difference(paired_difference(
                    [scores[f'{arm}/seed{s}'][m] for s in seeds],
                    [scores[f'{ctrl}/seed{s}'][m] for s in seeds]))
                for m in ('mTC', 'mIoU_15hz')) + ' |')
    table_args = argparse.Namespace(**dict(vars(args), arms=[], ema=[]))
    _camvid.report(scores, table_args)  # means, per class; writes --logs-to
    rows += report_extra(scores, extra_scores(args), args)
    with open(osp.join(args.logs_to, 'results.md'), 'a') as f:
        f.write('\n' + '\n'.join(rows) + '\n')
    with open(osp.join(args.logs_to, 'paired.json'), 'w') as f:
        json.dump(paired, f, indent=1)
    print('\n'.join(rows), flush=True)


def score_trained(args) -> None:
    """The ``--extra`` loops of every run whose final checkpoint is there."""
    for seed, arm, run_dir in runs(args):
        ckpt = osp.join(run_dir, f'iter_{args.iters}.pth')
        if osp.exists(ckpt):
            for kind in args.extra:
                score_extra(run_dir, ckpt, kind, args)
    report(saved_scores(args), args)


def parse_args(argv=None):
    p = study_parser(__doc__, 'work_dirs/camvid_study', None, 250, data_root=CAMVID_ROOT)
    p.add_argument('--arms', nargs='+', default=['plain', 'antialiased'], choices=list(ARMS))
    p.add_argument('--student', default='tiny', choices=list(STUDENTS))
    p.add_argument('--iters', type=int, default=1500)
    p.add_argument('--ema', type=float, nargs='*', default=[0.3, 0.5])
    p.add_argument('--extra', nargs='*', default=[], choices=list(EXTRA),
                   help='extra test loops per run (motion consistency, motion-compensated EMA)')
    p.add_argument('--extra-only', action='store_true',
                   help='only the --extra loops of runs already trained (nothing trains)')
    args = p.parse_args(argv)
    if args.logs_to is None:  # benchmarks/antialias_study_logs[/<student>]
        args.logs_to = osp.join(ROOT, 'benchmarks', 'antialias_study_logs',
                                *([args.student] if args.student != 'tiny' else []))
    if args.arms[0] != 'plain':
        p.error('--arms must start with plain, the paired control')
    args = absolute_paths(args)
    os.makedirs(args.logs_to, exist_ok=True)
    return args


def main(argv=None):
    args = parse_args(argv)
    # the committed logs hold every scored run: a fresh clone skips them (and
    # --report-only reports them instead of overwriting them with nothing)
    restore_scores(score_files(args), osp.join(args.logs_to, 'results.json'))
    if args.report_only:
        return report(saved_scores(args), args)
    torch.set_num_threads(args.threads)
    if args.extra_only:
        return score_trained(args)
    for seed, arm, run_dir in runs(args):  # seed-major: a cut-off run leaves paired seeds
        if not args.extra and all(osp.exists(path) for _, path in
                                  run_score_files(seed, arm, run_dir, args)):
            continue  # scored, here or (restored) on another machine
        cfg = arm_cfg(arm, seed, args)
        ckpt = train(cfg, f'scratch_seed{seed}_{arm}', args)
        score_run(cfg.work_dir, ckpt, args, with_ema=True)
        for kind in args.extra:
            score_extra(cfg.work_dir, ckpt, kind, args)
        report(saved_scores(args), args)


if __name__ == '__main__':
    main()
