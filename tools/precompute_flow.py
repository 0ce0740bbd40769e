"""Precompute the flow of every frame pair a training config will ask for,
and verify (and repair) an existing cache.

    python tools/precompute_flow.py CONFIG [--out CACHE_DIR]
        [--estimator '{"type": "DISFlow", "preset": "medium"}']
        [--dataloader train_dataloader] [--verify-only]
        [--cfg-options k=v ...]

Builds the config's triplet dataset, lists every pair (frame f -> labelled
frame, labelled frame -> frame b) over all offsets of the random sample
policy (and the reverse pairs when the pipeline's cache is read through
``ForwardBackwardChecked``), checks each cached entry (readable, float16
``(2, H, W)`` at its frame's size, finite) and computes the missing and
the stale (a frame replaced since) and the corrupt ones into the flow cache
(one atomic float16 file per pair, see
``mmseg_temporal/flow/sources/flow_cache.py``). A killed run resumes where
it stopped; a damaged entry is repaired by a rerun. ``--verify-only``
reports without computing (exit status 1 when an entry is missing, stale or
corrupt). ``--out`` defaults to the ``cache_dir`` of the pipeline's
``LoadPrecomputedFlow`` / ``LoadFlow(source=PrecomputedFlow)`` step.

Before any work the cache is checked: one cache holds one estimator (a
cache of another is refused with both names) and, unless --verify-only, the
folder must be writable. A user error (a missing frame, a config value) is
one ``error: ...`` line, exit status 1 (``--debug`` shows the traceback).
"""
import argparse
import json
import sys
import time

import torch
from mmengine.config import Config, DictAction
from mmseg.registry import DATASETS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.datasets.transforms import flow_cache_config
from mmseg_temporal.flow.sources.flow_cache import FlowCache
from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow
from mmseg_temporal.utils.cli import run_tool
from mmseg_temporal.utils.errors import ConfigError


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--out', help='cache folder (default: from the pipeline)')
    p.add_argument('--estimator', default=None,
                   help='flow estimator config as JSON (default: the '
                        "pipeline's, else the cache's, else DISFlow)")
    p.add_argument('--dataloader', default='train_dataloader')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--verify-only', action='store_true',
                   help='check the entries, compute nothing')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--debug', action='store_true',
                   help='show the traceback of a user error')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.dataloader not in cfg:
        raise ConfigError(f'{args.config}: no {args.dataloader!r} (--dataloader)')
    ds_cfg = cfg[args.dataloader].dataset.copy()
    step, both_ways = flow_cache_config(ds_cfg.get('pipeline', []))
    step = step or {}
    out = args.out or step.get('cache_dir')
    if not out:
        raise ConfigError(f'{args.config}: no --out given and the pipeline of '
                          f'{args.dataloader} has no '
                          'LoadPrecomputedFlow(cache_dir=...) step')
    meta = FlowCache(out).read_meta() or {}
    est_cfg = (json.loads(args.estimator) if args.estimator else
               step.get('estimator') or meta.get('estimator')
               or dict(type='DISFlow'))
    # The cache is checked before any work: one estimator, writable.
    FlowCache(out).check_estimator(est_cfg)
    if not args.verify_only:
        FlowCache(out).check_writable()
    ds_cfg['pipeline'] = []
    ds_cfg['sample_mode'] = 'triplet'
    dataset = DATASETS.build(ds_cfg)
    pairs = dataset.flow_pairs()
    if both_ways:
        pairs = list(dict.fromkeys(pairs + [(b, a) for a, b in pairs]))
    # Keys are relative to the dataset's data_root (what the pipeline's
    # PrecomputedFlow must be given too).
    source = PrecomputedFlow(
        out, dataset.data_root,
        on_missing='error' if args.verify_only else 'compute',
        estimator=est_cfg, device=args.device)
    report = source.check(pairs)
    counts = {k: len(report[k]) for k in ('missing', 'stale', 'corrupt')}
    print(f'{len(pairs)} pairs in {out}: {len(report["ok"])} cached and '
          f'valid, {counts["missing"]} missing, {counts["stale"]} stale (a '
          f'frame changed since), {counts["corrupt"]} corrupt')
    for pair in report['stale'][:5]:
        print(f'  stale: {pair[0]} -> {pair[1]}')
    for pair, cause in report['corrupt'][:5]:
        print(f'  corrupt: {pair[0]} -> {pair[1]}: {cause}')
    if args.verify_only:
        return dict(pairs=len(pairs), **counts)
    source.cache.write_meta(dict(estimator=est_cfg, dtype='float16',
                                 data_root=source.cache.data_root,
                                 config=args.config))
    t0 = time.time()
    computed = source.compute_pairs(source.to_compute(report))
    dt = time.time() - t0
    print(f'done with {est_cfg}: {computed} pairs computed in {dt:.1f} s'
          + (f' ({dt / computed * 1000:.1f} ms/pair)' if computed else '')
          + f', of which {counts["stale"]} replaced stale and '
          f'{counts["corrupt"]} repaired corrupt entries')
    return dict(pairs=len(pairs), computed=computed,
                repaired=counts['corrupt'], stale=counts['stale'])


if __name__ == '__main__':
    # --verify-only: exit status 1 when an entry is missing, stale or corrupt.
    result = run_tool(main)
    sys.exit(1 if any(result.get(k) for k in ('missing', 'stale', 'corrupt'))
             else 0)
