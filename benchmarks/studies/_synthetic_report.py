"""Tables of the paired study (``paired_study.py``) from its saved scores.

Every model was scored by the stock test loop of the synthetic baseline
config (the harness's ``test_figures``; one ``score*.json`` per model and
variant); the figures (docs/results.md section 1):

* ``mIoU``: MMSeg's ``IoUMetric`` over every test frame (``SparseIoUMetric``);
  ``mIoU_fast`` the same on the fast frames only (``subset``: the frames whose
  fastest visible object is at least the split's 75th percentile of speed).
* ``mTC``: temporal consistency (exact flow and visibility; the ground
  truth scores 100, ``mTC_gt``), per-class I and U summed over every frame
  pair, mean over the *fixed* class set = the classes of the test labels;
  a class in the set that the model never predicts scores 0.
* ``mTC_pred``: the mean over the classes of the set that this model
  predicts somewhere (a single-model figure).
* ``mTC_shared`` (paired differences only): the mean over the classes that
  both the arm and its control predict somewhere.
* ``mVC_8``, ``mVC_16``: VSPW's video consistency (a constant prediction
  scores 100: read it beside mIoU).
"""
import glob
import json
import math
import os
import os.path as osp
import re
import statistics
from typing import Dict, List, Optional

import numpy as np

from mmseg_temporal.experiments.stats import format_difference, paired_difference
from mmseg_temporal.utils.atomic import atomic_write_text

from _harness import set_shared_tc

METRICS = ('mIoU', 'mTC', 'mTC_pred', 'mVC_8', 'mVC_16', 'mIoU_fast', 'mTC_gt')
PAIRED = ('mTC', 'mTC_shared', 'mIoU', 'mVC_8', 'mIoU_fast')
CLASSES = ('sky', 'ground', 'vehicle', 'pedestrian', 'sign')


def metrics_of(s: Dict) -> Dict:
    """The figures of one scored model (its ``score*.json``)."""
    out = {m: float(s[m]) for m in METRICS}
    out.update(tc_per_class=[round(float(v), 2) for v in s['tc_per_class']],
               never_predicted=sorted(set(s['classes']) - set(s['predicted'])))
    return out


def _load(path: str) -> Optional[Dict]:
    if not osp.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def val_curve(run_dir: str) -> List[List[float]]:
    """``[[iteration, val mIoU], ...]`` from the run's scalars.json files."""
    points = {}
    for f in sorted(glob.glob(osp.join(run_dir, '2*', 'vis_data', 'scalars.json'))):
        with open(f) as fh:
            for line in fh:
                rec = json.loads(line)
                if 'mIoU' in rec:
                    points[int(rec['step'])] = float(rec['mIoU'])
    return [[k, v] for k, v in sorted(points.items())]


def _paired(models: Dict, arm: str, control: str, seeds) -> Dict:
    """Paired differences ``arm - control`` over the seeds that have both."""
    both = [s for s in seeds if f'{arm}/seed{s}' in models
            and f'{control}/seed{s}' in models]
    if not both:
        return {}
    out = dict(seeds=both)
    for m in PAIRED:
        a, c = [], []
        for s in both:
            sa, sc = models[f'{arm}/seed{s}'], models[f'{control}/seed{s}']
            if m == 'mTC_shared':
                raw_a, raw_c = dict(sa['_raw']), dict(sc['_raw'])
                set_shared_tc(raw_a, raw_c)
                a.append(raw_a['mTC_shared'])
                c.append(raw_c['mTC_shared'])
            else:
                a.append(sa[m])
                c.append(sc[m])
        out[m] = paired_difference(a, c)
    return out


def build(work_dir: str, seeds, arms, labels: Dict) -> Dict:
    """Collects every score of a study work dir into one results dict."""
    models, prov = {}, {}

    def add(name: str, run_dir: str, score_file: str = 'score.json') -> None:
        res = _load(osp.join(run_dir, score_file))
        if res is None:
            return
        models[name] = dict(metrics_of(res), _raw=res)
        if score_file != 'score.json':
            return
        p = _load(osp.join(run_dir, 'provenance.json')) or {}
        prov[name] = dict(trained_on=p.get('commit'), scored_on=res['scored_on'],
                          train_s=p.get('train_s'))
        for path in sorted(glob.glob(osp.join(run_dir, 'score_*ema*.json'))):
            variant = osp.basename(path)[len('score_'):-len('.json')]
            key = name.replace('/', f'+{variant}/', 1) if '/' in name \
                else f'{name}+{variant}'
            res = _load(path)
            models[key] = dict(metrics_of(res), _raw=res)

    add('baseline', osp.join(work_dir, 'baseline'))
    add('baseline (train split)', osp.join(work_dir, 'baseline'), 'score_train.json')
    add('teacher', osp.join(work_dir, 'teacher'))
    for arm in arms:
        for s in seeds:
            add(f'{arm}/seed{s}', osp.join(work_dir, f'seed{s}', arm))
    ema = sorted({k.split('+')[1].split('/')[0] for k in models
                  if k.startswith('control+')})
    summary, paired = {}, {}
    for arm in list(arms) + [f'control+{e}' for e in ema]:
        rows = [models[f'{arm}/seed{s}'] for s in seeds if f'{arm}/seed{s}' in models]
        if not rows:
            continue
        summary[arm] = {m: _mean_sd([r[m] for r in rows]) for m in METRICS}
        summary[arm]['n'] = len(rows)
        summary[arm]['tc_per_class'] = np.mean(
            [r['tc_per_class'] for r in rows], axis=0).round(2).tolist()
        summary[arm]['never_predicted'] = {
            CLASSES[c]: sum(c in r['never_predicted'] for r in rows)
            for c in range(len(CLASSES))
            if any(c in r['never_predicted'] for r in rows)}
        if arm != 'control':
            paired[arm] = _paired(models, arm, 'control', seeds)
        mc = re.fullmatch(r'(.+)\+mcema([\d.]+)(?:-\w+)?', arm)
        if mc and f'{mc[1]}+ema{mc[2]}' in summary:  # motion compensation's own effect
            plain = f'{mc[1]}+ema{mc[2]}'
            paired[f'{arm} vs {plain}'] = _paired(models, arm, plain, seeds)
    curves = {'baseline': val_curve(osp.join(work_dir, 'baseline')),
              'teacher': val_curve(osp.join(work_dir, 'teacher'))}
    for arm in arms:
        curves[arm] = [val_curve(osp.join(work_dir, f'seed{s}', arm)) for s in seeds]
    return dict(models={k: {m: v for m, v in d.items() if m != '_raw'}
                        for k, d in models.items()},
                summary=summary, paired=paired, curves=curves,
                provenance=prov, labels=labels, seeds=list(seeds),
                test_videos=_test_videos(work_dir, models))


def _test_videos(work_dir: str, models: Dict) -> Optional[int]:
    """How many test videos the baseline was scored on: from its scores, or
    (scores of before they recorded it) its run's config, which the scoring
    config copies."""
    base = models.get('baseline')
    if base is None:
        return None
    if 'videos' in base['_raw']:
        return base['_raw']['videos']
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(work_dir, 'baseline', 'study_config.py'))
    return cfg.test_dataloader.dataset.num_videos


def _mean_sd(v: List[float]) -> List[float]:
    return [round(statistics.mean(v), 2),
            round(statistics.stdev(v), 2) if len(v) > 1 else float('nan')]


def _fmt(ms: List[float]) -> str:
    m, sd = ms
    return f'{m:.2f}' + ('' if math.isnan(sd) else f' ± {sd:.2f}')


def to_markdown(res: Dict) -> str:
    labels = res['labels']
    out = ['# Paired study on the synthetic video (benchmarks/studies/paired_study.py)',
           '', f'Seeds {res["seeds"]}; every arm fine-tuned from one baseline '
           f'checkpoint; scored by the stock test loop of {res.get("test_videos")} test '
           'videos (exact flow: ground truth scores 100, mTC_gt). Definitions: '
           'benchmarks/studies/_synthetic_report.py and docs/results.md.', '',
           '## Models (mean ± sd over seeds; single models without sd)', '',
           '| model | seeds | mIoU | mTC (fixed set) | mTC_pred | mVC_8 | '
           'mVC_16 | mIoU fast frames | mTC_gt (ceiling) | never predicted |',
           '| --- ' * 10 + '|']
    for name in ('baseline', 'baseline (train split)',
                 'teacher') + tuple(k for k in res['models']
                                    if k.startswith('baseline+')):
        if name in res['models']:
            r = res['models'][name]
            out.append(f'| {name} | 1 | ' + ' | '.join(
                f'{r[m]:.2f}' for m in METRICS) + ' | ' +
                (', '.join(CLASSES[c] for c in r['never_predicted']) or '-') + ' |')
    for arm, r in res['summary'].items():
        never = ', '.join(f'{c} ({n} seeds)' for c, n in r['never_predicted'].items())
        out.append(f'| {labels.get(arm, arm)} | {r["n"]} | ' + ' | '.join(
            _fmt(r[m]) for m in METRICS) + f' | {never or "-"} |')
    out += ['', '## Paired differences, arm - control (mean [95 % CI, t with '
            'n-1 dof] seeds positive/seeds; * = the interval excludes 0)', '',
            '| arm | ' + ' | '.join(PAIRED) + ' |', '| --- ' * (len(PAIRED) + 1) + '|']
    for arm, d in res['paired'].items():
        if d:
            out.append(f'| {labels.get(arm, arm)} | ' + ' | '.join(
                format_difference(d.get(m)) for m in PAIRED) + ' |')
    out += ['', '## TC per class (fixed set, mean over seeds; 0 = never '
            'predicted)', '', '| model | ' + ' | '.join(CLASSES) + ' |',
            '| --- ' * (len(CLASSES) + 1) + '|']
    for name in ('baseline', 'teacher'):
        if name in res['models']:
            out.append(f'| {name} | ' + ' | '.join(
                f'{v:.1f}' for v in res['models'][name]['tc_per_class']) + ' |')
    for arm, r in res['summary'].items():
        out.append(f'| {labels.get(arm, arm)} | ' + ' | '.join(
            f'{v:.1f}' for v in r['tc_per_class']) + ' |')
    out += ['', '## Convergence (validation mIoU against iterations)', '']
    for name in ('baseline', 'teacher'):
        if res['curves'].get(name):
            out.append(f'- {name}: ' + ', '.join(
                f'{int(k)}: {v:.1f}' for k, v in res['curves'][name]))
    for arm in res['summary']:
        finals = [c[-1][1] for c in res['curves'].get(arm, []) if c]
        if finals:
            out.append(f'- {labels.get(arm, arm)}: final val mIoU per seed '
                       + ', '.join(f'{v:.1f}' for v in finals))
    out += ['', '## Provenance (commit each model was trained / scored on)', '']
    for name, p in res['provenance'].items():
        out.append(f'- {name}: trained on {str(p["trained_on"])[:10]}, scored on '
                   f'{str(p["scored_on"])[:10]}, training {p["train_s"]} s')
    return '\n'.join(out) + '\n'


def write(res: Dict, out_dir: str) -> None:
    """``results.json`` and ``results.md`` into ``out_dir`` (atomic)."""
    os.makedirs(out_dir, exist_ok=True)
    for name, text in (('results.json', json.dumps(res, indent=1, default=float)),
                       ('results.md', to_markdown(res))):
        atomic_write_text(osp.join(out_dir, name), text)
