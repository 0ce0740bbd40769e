"""Precompute the flow of every frame pair a training config will ask for.

    python tools/precompute_flow.py CONFIG [--out CACHE_DIR]
        [--estimator '{"type": "DISFlow", "preset": "medium"}']
        [--dataloader train_dataloader] [--cfg-options k=v ...]

Builds the config's triplet dataset, lists every pair (frame f -> labelled
frame, labelled frame -> frame b) over all offsets of the random sample
policy, and stores the flow of each into a flow cache (float16, one atomic
file per pair, see ``mmseg_temporal/models/flow/flow_cache.py``). Pairs
already in the cache are skipped, so a killed run resumes where it stopped.
``--out`` defaults to the ``cache_dir`` of the pipeline's
``LoadPrecomputedFlow`` step.
"""
import argparse
import json
import time

import torch
from mmengine.config import Config, DictAction
from mmseg.registry import DATASETS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.models.flow import PrecomputedFlow


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
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def _pipeline_step(pipeline, name):
    for step in pipeline:
        if step.get('type') == name:
            return step
    return None


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    ds_cfg = cfg[args.dataloader].dataset.copy()
    step = _pipeline_step(ds_cfg.get('pipeline', []), 'LoadPrecomputedFlow') or {}
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
    # Keys are relative to the dataset's data_root (what LoadPrecomputedFlow
    # must be given too).
    source = PrecomputedFlow(out, dataset.data_root, on_missing='compute',
                             estimator=est_cfg, device=args.device)
    source.cache.write_meta(dict(estimator=est_cfg, dtype='float16',
                                 data_root=source.cache.data_root,
                                 config=args.config))
    cached = sum(source.cache.has(*p) for p in pairs)
    print(f'{len(pairs)} pairs, {cached} already cached, '
          f'{len(pairs) - cached} to compute with {est_cfg} -> {out}')
    t0 = time.time()
    computed = source.fill(pairs)
    dt = time.time() - t0
    print(f'done: {computed} pairs in {dt:.1f} s'
          + (f' ({dt / computed * 1000:.1f} ms/pair)' if computed else ''))
    return dict(pairs=len(pairs), computed=computed)


if __name__ == '__main__':
    main()
