"""The CamVid protocol of the studies: a CamVid CPU config set for one
run (its flow read from the study's DIS cache, optionally
forward-backward checked), the cache filled once, every model scored on
the 15 Hz run (fixed-class TC, VC, mIoU; with ``--ema`` its EMA-smoothed
variants) and on the test split through the stock test loop, and the
means / paired / per-class tables of a CamVid study."""
import math
import os.path as osp
import statistics
from typing import Optional

from mmengine.config import Config
from mmseg.registry import DATASETS

from mmseg_temporal.experiments import format_difference, paired_difference, study_config
from mmseg_temporal.experiments.records import cached_json
from mmseg_temporal.experiments.steps import test_checkpoint
from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow

from _harness import ROOT, score_path, set_shared_tc, test_figures, write_results

CFG = osp.join(ROOT, 'configs', 'camvid_cpu')
CAMVID_ROOT = osp.join(ROOT, '..', 'shared', 'data', 'camvid')
DIS_MEDIUM = dict(type='DISFlow', preset='medium')
CAMVID_CLASSES = 11
CLASS_NAMES = DATASETS.get('CamVidVideoDataset').METAINFO['classes']
PAIRED = ('mTC', 'mTC_shared', 'mIoU_15hz', 'mIoU_test', 'mVC_8')


def camvid_cfg(name: str, work_dir: str, args, seed: int, iters: int,
               fb_check: bool = False, precision: Optional[str] = None) -> Config:
    """The CamVid CPU config ``name`` set for one run of a study (through
    the package's one adjuster), its flow read from the study's cache
    (``fb_check``: forward-backward checked); ``precision`` (default
    ``--precision``) of its training."""
    cfg = study_config(osp.join(CFG, name), work_dir, seed, iters,
                       data_root=args.data_root, val_every=max(iters // 5, 1),
                       ckpt_every=args.ckpt_every, workers=args.workers,
                       run_name=osp.relpath(work_dir, args.work_dir), repo_root=ROOT,
                       precision=precision or args.precision)
    cache = osp.join(args.work_dir, 'flow_cache')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for step in cfg[key].dataset.get('pipeline', []):
            if step['type'] == 'LoadPrecomputedFlow':
                step.update(cache_dir=cache, data_root=args.data_root)
                if fb_check:
                    cached = dict(type='PrecomputedFlow', cache_dir=cache,
                                  data_root=args.data_root)
                    step.clear()
                    step.update(type='LoadFlow', source=dict(
                        type='ForwardBackwardChecked', source=cached))
    return cfg


def fill_flow_cache(args) -> None:
    cfg = camvid_cfg('pspnet_tiny_tl_camvid_cpu.py', args.work_dir, args, 0, 1)
    ds = dict(cfg.train_dataloader.dataset.to_dict(), pipeline=[])
    pairs = DATASETS.build(ds).flow_pairs()
    if any(arm.endswith('_fb') for arm in args.arms):  # the check reads both ways
        pairs = pairs + [(b, a) for a, b in pairs]
    source = PrecomputedFlow(osp.join(args.work_dir, 'flow_cache'),
                             args.data_root, on_missing='compute', estimator=DIS_MEDIUM)
    print(f'[camvid_study] flow cache: {source.fill(pairs)} of {len(pairs)} '
          'pairs computed', flush=True)


def scoring_cfg(name: str, run_dir: str, args) -> Config:
    """The test config ``name`` with the student the run trained (the
    teacher is wider than the tiny student the test configs name)."""
    cfg = camvid_cfg(name, run_dir, args, 0, 1, precision='fp32')
    trained = Config.fromfile(osp.join(run_dir, 'study_config.py')).model.student
    model = cfg.model.segmentor if 'segmentor' in cfg.model else cfg.model
    model.student = trained
    return cfg


def score(run_dir: str, ckpt: str, args, ema: float = None) -> dict:
    """The run's figures on the 15 Hz run and the test split (cached in
    :func:`score_path`); with ``ema`` the model's logits EMA-smoothed
    (``EMASmoothedSegmentor``), on the 15 Hz run only (the test split's
    frames are 1 s apart)."""
    return cached_json(score_path(run_dir, ema),
                       lambda: _score(run_dir, ckpt, args, ema), recompute=args.rescore)


def _score(run_dir: str, ckpt: str, args, ema: float = None) -> dict:
    name = 'camvid_cpu_15hz_test.py' if ema is None else 'camvid_cpu_15hz_ema_test.py'
    cfg = scoring_cfg(name, run_dir, args)
    if ema is not None:
        cfg.model.alpha = ema
    sub = 'test_15hz' if ema is None else f'test_15hz_ema{ema}'
    figures = test_figures(cfg, ckpt, sub)
    m_test = dict(mIoU=float('nan'))
    if ema is None:
        test_cfg = scoring_cfg('pspnet_tiny_baseline_camvid_cpu.py', run_dir, args)
        test_cfg.test_evaluator = [dict(type='SparseIoUMetric', iou_metrics=['mIoU'])]
        m_test = test_checkpoint(test_cfg, ckpt, 'test_split')
    out = dict(mIoU_15hz=figures['mIoU'], mIoU_test=float(m_test['mIoU']),
               mTC_gt=figures.get('mTC_gt', float('nan')))
    out.update({k: figures[k] for k in (
        'mTC', 'mTC_pred', 'mVC_8', 'mVC_16', 'tc_per_class', 'predicted',
        'classes', 'scored_on')})
    return out


def score_run(run_dir: str, ckpt: str, args, with_ema: bool = False) -> None:
    """Scores a run (and with ``with_ema`` its EMA-smoothed variants, one
    per ``--ema`` alpha); :func:`saved_scores` reads them back."""
    score(run_dir, ckpt, args)
    for alpha in args.ema if with_ema else ():
        score(run_dir, ckpt, args, ema=alpha)


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
        a = [dict(scores[f'{arm}/seed{s}']) for s in seeds]  # mTC_shared is per pair:
        c = [dict(scores[f'control/seed{s}']) for s in seeds]  # set on copies
        for x, y in zip(a, c):
            set_shared_tc(x, y)
        paired[arm] = {m: paired_difference([x[m] for x in a], [y[m] for y in c])
                       for m in PAIRED if not any(math.isnan(x[m]) for x in a + c)}
        lines.append(f'| {arm} | ' + ' | '.join(
            format_difference(paired[arm].get(m)) for m in PAIRED) + ' |')
    lines += ['', '| TC per class (mean over seeds) | ' + ' | '.join(CLASS_NAMES) + ' |',
              '| --- ' * (CAMVID_CLASSES + 1) + '|']
    for arm, rows in groups.items():
        per_class = [statistics.mean(r['tc_per_class'][c] for r in rows)
                     for c in range(CAMVID_CLASSES)]
        lines.append(f'| {arm} | ' + ' | '.join(f'{v:.1f}' for v in per_class) + ' |')
    write_results(args.logs_to, dict(scores=scores, paired=paired), lines)
