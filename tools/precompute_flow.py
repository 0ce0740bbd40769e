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
the corrupt ones into the flow cache (one atomic float16 file per pair, see
``mmseg_temporal/flow_sources/flow_cache.py``). A killed run resumes where
it stopped; a damaged entry is repaired by a rerun. ``--verify-only``
reports without computing (exit status 1 when an entry is missing or
corrupt). ``--out`` defaults to the ``cache_dir`` of the pipeline's
``LoadPrecomputedFlow`` / ``LoadFlow(source=PrecomputedFlow)`` step.
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
from mmseg_temporal.flow_sources import PrecomputedFlow


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--out', help='cache folder (default: from the pipeline)')
    p.add_argument('--estimator', default=None,
                   help='flow estimator config as JSON (default: the '
                        "pipeline's, else DISFlow)")
    p.add_argument('--dataloader', default='train_dataloader')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--verify-only', action='store_true',
                   help='check the entries, compute nothing')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    ds_cfg = cfg[args.dataloader].dataset.copy()
    step, both_ways = flow_cache_config(ds_cfg.get('pipeline', []))
    step = step or {}
    out = args.out or step.get('cache_dir')
    if not out:
        raise SystemExit('no --out given and the pipeline has no '
                         'LoadPrecomputedFlow(cache_dir=...) step')
    est_cfg = (json.loads(args.estimator) if args.estimator else
               step.get('estimator') or dict(type='DISFlow'))
    ds_cfg['pipeline'] = []
    ds_cfg['sample_mode'] = 'triplet'
    dataset = DATASETS.build(ds_cfg)
    pairs = dataset.flow_pairs()
    if both_ways:
        pairs = list(dict.fromkeys(pairs + [(b, a) for a, b in pairs]))
    # Keys are relative to the dataset's data_root (what the pipeline's
    # PrecomputedFlow must be given too).
    source = PrecomputedFlow(out, dataset.data_root, on_missing='compute',
                             estimator=est_cfg, device=args.device)
    report = source.check(pairs)
    missing, corrupt = len(report['missing']), len(report['corrupt'])
    print(f'{len(pairs)} pairs in {out}: {len(report["ok"])} cached and '
          f'valid, {missing} missing, {corrupt} corrupt')
    for pair, cause in report['corrupt'][:5]:
        print(f'  corrupt: {pair[0]} -> {pair[1]}: {cause}')
    result = dict(pairs=len(pairs), missing=missing, corrupt=corrupt)
    if args.verify_only:
        return result
    source.cache.write_meta(dict(estimator=est_cfg, dtype='float16',
                                 data_root=source.cache.data_root,
                                 config=args.config))
    t0 = time.time()
    computed = source.compute_pairs(
        report['missing'] + [pair for pair, _ in report['corrupt']])
    dt = time.time() - t0
    print(f'done with {est_cfg}: {computed} pairs computed in {dt:.1f} s'
          + (f' ({dt / computed * 1000:.1f} ms/pair)' if computed else '')
          + f', of which {corrupt} repaired corrupt entries')
    return dict(pairs=len(pairs), computed=computed, repaired=corrupt)


if __name__ == '__main__':
    # --verify-only: exit status 1 when an entry is missing or corrupt.
    result = main()
    sys.exit(1 if result.get('missing') or result.get('corrupt') else 0)
