"""What the study scripts of this folder share (they import the package
and the ``_``-prefixed helper modules, never each other): the study
options, recorded training, the TL arms' loss terms, scoring by a config's
stock test loop, the paired tables, the synthetic video's runs. (The
CamVid protocol: ``_camvid``; a sequence's frame and label readers:
``_sequence_data``.)
"""
import argparse
import json
import os
import os.path as osp
import statistics
from typing import Optional, Tuple

from mmengine.config import Config

import mmseg_temporal  # noqa: F401  (registers the plugin)
from mmseg_temporal.evaluation.functional import shared_class_means
from mmseg_temporal.experiments import format_difference, paired_difference, study_config
from mmseg_temporal.experiments.records import (
    cached_json,
    git_commit,
    scalar_metrics,
    train_recorded,
    write_json,
)
from mmseg_temporal.experiments.steps import test_checkpoint
from mmseg_temporal.utils.atomic import atomic_write_text

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the figures a synthetic two-arm study pairs (mTC_gt: the exact flow's ceiling)
SYNTHETIC_PAIRED = ('mTC', 'mTC_shared', 'mTC_pred', 'mIoU', 'mVC_8', 'mTC_gt')
# TL forms. A term's weight in the total is its loss_weight. The release's
# TL is 0.1 * MSE(logits): a mean over classes too, i.e.
# TemporalLoss(compare='logits') (a sum over classes) with weight 0.1 / C.


def tl_arms(num_classes: int) -> dict:
    """The loss terms of each TL arm for a ``num_classes`` dataset
    (``'etc'``: the ETC config's terms, its TL set to ``tl_logits``)."""
    release = dict(type='TemporalLoss', compare='logits',
                   loss_weight=0.1 / num_classes)
    return {
        'control': dict(tl=dict(release, loss_weight=0.0)),
        'tl_logits': dict(tl=release),
        'tl_logits_x10': dict(tl=dict(release, loss_weight=1.0 / num_classes)),
        'tl_prob': dict(tl=dict(type='TemporalLoss', compare='prob',
                                loss_weight=0.1)),
        'etc': None,
    }


def with_fb_arms(arms: dict) -> dict:
    """The TL arms again with the training flow forward-backward checked
    (``<arm>_fb``): TL then skips the pixels whose 1 s-gap DIS flow does
    not come back (about 12 % on the 15 Hz run, far more on 1 s gaps;
    docs/evaluation.md)."""
    out = dict(arms)
    out.update({f'{arm}_fb': arms[arm] for arm in FB_SOURCES})
    return out


FB_SOURCES = ('tl_logits', 'tl_logits_x10', 'tl_prob')


def study_parser(doc: str, work_dir: str, logs_to: str, ckpt_every: int,
                 data_root: str = None) -> argparse.ArgumentParser:
    """The options every study takes (its own are added after):
    ``--data-root`` (default ``data_root``; None: the study's own),
    ``--work-dir``, ``--seeds`` (0-4), ``--ckpt-every``, ``--logs-to``
    (under ``benchmarks/``), ``--threads`` and ``--workers`` (1 each),
    ``--rescore``, ``--report-only``, ``--precision`` (of training)."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-root', default=data_root)
    p.add_argument('--work-dir', default=work_dir)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    p.add_argument('--ckpt-every', type=int, default=ckpt_every)
    p.add_argument('--logs-to', default=logs_to and osp.join(ROOT, 'benchmarks', logs_to))
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--rescore', action='store_true')
    p.add_argument('--precision', choices=('fp32', 'bf16'), default='fp32',
                   help='training precision (bf16: CPU autocast; lands inside '
                        "fp32's seed spread, docs/benchmarks.md)")
    p.add_argument('--report-only', action='store_true',
                   help='rebuild the tables from the saved scores')
    return p


def lane(text: str) -> tuple:
    """``--lane K/N`` -> ``(K, N)`` with ``0 <= K < N``: N processes share a
    study's runs, this one takes runs K, K+N, ..."""
    try:
        k, n = (int(v) for v in text.split('/'))
    except ValueError:
        k, n = -1, 0
    if not 0 <= k < n:
        raise argparse.ArgumentTypeError(f'--lane K/N with 0 <= K < N, got {text!r}')
    return k, n


def absolute_paths(args) -> argparse.Namespace:
    """``--work-dir``, ``--logs-to`` and ``--data-root`` (default
    ``<work-dir>/data``) made absolute."""
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root or osp.join(args.work_dir, 'data'))
    args.logs_to = osp.abspath(args.logs_to)
    return args


def train(cfg: Config, name: str, args) -> str:
    """Trains unless done (a killed run resumes), with provenance; copies
    the run's log to ``--logs-to``."""
    return train_recorded(cfg, name, args.logs_to)


def synthetic_cfg(name: str, work_dir: str, args, seed: int, iters: int) -> Config:
    """``configs/synthetic/<name>`` set for one run of a study (the package's
    one adjuster; validated once at the end), tested on ``--test-videos``
    test videos."""
    cfg = study_config(osp.join(ROOT, 'configs', 'synthetic', name), work_dir, seed, iters,
                       data_root=args.data_root, val_every=iters,
                       ckpt_every=args.ckpt_every, log_every=50, workers=args.workers,
                       run_name=osp.relpath(work_dir, args.work_dir).replace(os.sep, '_'),
                       repo_root=ROOT, precision=args.precision)
    cfg.test_dataloader.dataset.num_videos = args.test_videos
    return cfg


def antialias_arm(cfg: Config, options: Optional[dict]) -> Config:
    """``cfg`` with its student's backbone made ``AntiAliased<type>`` with
    ``options`` (e.g. ``blur_size``, ``blur_first``); ``None``: left plain."""
    if options is not None:
        backbone = cfg.model.student.backbone
        backbone.type = f'AntiAliased{backbone.type}'
        backbone.update(options)
    return cfg


def recorded_name(key: tuple) -> str:
    """A ``(run, seed)`` run's name in a study's ``results.json``:
    ``<run>/seed<s>``."""
    return f'{key[0]}/seed{key[1]}'


def read_scores(named_paths) -> dict:
    """``{name: the JSON at path}`` for every ``(name, path)`` whose file
    exists, in the order given (the reports keep it)."""
    scores = {}
    for name, path in named_paths:
        if osp.exists(path):
            with open(path) as f:
                scores[name] = json.load(f)
    return scores


def score_path(run_dir: str, ema: float = None) -> str:
    """Where a run's scores (with ``ema``: its EMA-smoothed ones) are saved."""
    return osp.join(run_dir, 'score.json' if ema is None else f'score_ema{ema}.json')


def test_figures(cfg: Config, ckpt: str, sub_dir: str = 'test') -> dict:
    """A checkpoint's figures from ``cfg``'s own test loop (work dir
    ``<work_dir>/<sub_dir>``): every scalar metric, the TC metric's
    per-class TC, class set and predicted classes, and the commit."""
    metrics, tc = test_checkpoint(cfg, ckpt, sub_dir, with_tc_result=True)
    if tc is None:
        raise ValueError(f'{cfg.work_dir}: the test loop has no '
                         'TemporalConsistencyMetric, so a study cannot score TC with it')
    out = scalar_metrics(metrics)
    out.update(tc_per_class=[float(v) for v in tc['per_class']],
               predicted=sorted(int(c) for c in tc['predicted_classes']),
               classes=sorted(int(c) for c in tc['classes']), scored_on=git_commit())
    return out


def score_cfg(cfg: Config, ckpt: str, args) -> dict:
    """:func:`test_figures` of a run whose ``cfg`` tests it as it is (the
    synthetic studies), cached in its :func:`score_path`."""
    return cached_json(score_path(cfg.work_dir), lambda: test_figures(cfg, ckpt), args.rescore)


def set_shared_tc(arm: dict, control: dict) -> None:
    """Sets ``mTC_shared`` of two scored models of one seed: their TC mean
    over the classes of the fixed set that both predict."""
    (arm['mTC_shared'], control['mTC_shared']), _ = shared_class_means(
        [arm['tc_per_class'], control['tc_per_class']],
        [arm['predicted'], control['predicted']], classes=arm['classes'])


def two_arm_tables(runs: dict, arm: str, control: str, seeds, keys) -> Tuple[list, dict]:
    """Markdown lines of a two-arm study: per arm the mean ± sd over
    ``seeds`` of ``keys`` (``runs[(arm, seed)]`` = a run's figures), then the
    paired ``arm - control`` differences over the seeds both have; and those
    differences (empty below 2 seeds)."""
    seeds = [s for s in seeds if (arm, s) in runs and (control, s) in runs]
    lines = [f'| {arm} vs {control} | seeds | ' + ' | '.join(keys) + ' |',
             '| --- ' * (len(keys) + 2) + '|']
    for name in (control, arm):
        rows = [runs[(name, s)] for s in seeds]
        if len(rows) > 1:
            lines.append(f'| {name} | {len(rows)} | ' + ' | '.join(
                f'{statistics.mean(r[k] for r in rows):.2f} ± '
                f'{statistics.stdev(r[k] for r in rows):.2f}' for k in keys) + ' |')
    paired = {k: paired_difference([runs[(arm, s)][k] for s in seeds],
                                   [runs[(control, s)][k] for s in seeds])
              for k in keys} if len(seeds) > 1 else {}
    lines += ['', f'| {arm} - {control} | seeds | ' + ' | '.join(keys) + ' |',
              '| --- ' * (len(keys) + 2) + '|',
              f'| paired | {len(seeds)} | ' + ' | '.join(
                  format_difference(paired.get(k)) for k in keys) + ' |']
    return lines, paired


def write_results(logs_to: str, results: dict, lines: list) -> None:
    """``results.json`` and ``results.md`` into ``logs_to`` (atomic); the
    table printed."""
    os.makedirs(logs_to, exist_ok=True)
    write_json(osp.join(logs_to, 'results.json'), results, indent=1)
    atomic_write_text(osp.join(logs_to, 'results.md'), '\n'.join(lines) + '\n')
    print('\n'.join(lines), flush=True)
