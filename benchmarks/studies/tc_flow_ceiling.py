"""The TC that ground-truth labels score: what a perfect, perfectly stable
model would get under each flow source of the TC metric. Below 100 is the
flow's own error (exact flow scores 100): the ceiling ``mTC_gt`` that the
metric prints beside a model's ``mTC``.

    OMP_NUM_THREADS=1 python benchmarks/studies/tc_flow_ceiling.py \
        [--camvid ../shared/data/camvid] [--videos 10] [--data-root DIR]

Sets: the synthetic test split of the quick start (96x128, 20 frames a
video; exact flow and DIS), and with ``--camvid`` the CamVid 15 Hz run
(``val``, 101 frames) and Seq05VD (``test``, 171 frames 1 s apart) at their
360x480 label resolution, with DIS ``medium`` without and with the
forward-backward mask (``ForwardBackwardChecked``). The class set is the
classes of each set's ground truth (the metric's default). Prints markdown.
"""
import argparse
import tempfile
from typing import Callable, Dict, List, Optional

import numpy as np
from mmseg.registry import DATASETS

import mmseg_temporal  # noqa: F401  (registers datasets and flow sources)
from mmseg_temporal.evaluation.functional import classes_in, temporal_consistency
from mmseg_temporal.flow.sources.base import build_flow_source
from mmseg_temporal.utils.cpu_info import machine_line
from mmseg_temporal.utils.image import read_rgb

from _camvid import DIS_MEDIUM
from _sequence_data import read_label, sequences


def ground_truth_tc(seqs: Dict[str, List[dict]], source: Callable,
                    num_classes: int, masked: Optional[bool] = None) -> Dict:
    """TC of the label maps, flows from ``source(path_a, path_b, img_a,
    img_b) -> (flow, valid)``; ``masked=False`` drops the source's mask.
    Class set: the classes of the labels (per sequence for ``mTC_seq``:
    that sequence's, as the metric does)."""
    labels, flows, valids = [], [], []
    for frames in seqs.values():
        labels.append([read_label(f) for f in frames])
        pairs = [source(a['img_path'], b['img_path'], read_rgb(a['img_path']),
                        read_rgb(b['img_path']))
                 for a, b in zip(frames[:-1], frames[1:])]
        flows.append([f for f, _ in pairs])
        valids.append([None if masked is False else v for _, v in pairs])
    seq_classes = [sorted({int(c) for m in seq
                           for c in classes_in(m, num_classes)})
                   for seq in labels]
    classes = sorted(set().union(*seq_classes))
    masks = [v for seq in valids for v in seq if v is not None]
    res = temporal_consistency(labels, flows, num_classes,
                               valids=valids if masks else None,
                               classes=classes, seq_classes=seq_classes)
    res['kept'] = float(np.mean([m.mean() for m in masks])) if masks else 1.0
    return res


def print_rows(title: str, rows: Dict[str, Dict], class_names=None) -> None:
    print(f'\n{title}\n\n| flow | mTC | mTC_seq | pairs | pixels kept by the '
          'mask |\n| --- | --- | --- | --- | --- |')
    for name, r in rows.items():
        print(f'| {name} | {r["mTC"]:.2f} | {r["mTC_seq"]:.2f} | '
              f'{r["num_pairs"]} | {r["kept"] * 100:.1f} % |')
    if class_names is None:
        return
    print('\n| class | ' + ' | '.join(rows) + ' |\n| --- |'
          + ' --- |' * len(rows))
    for c, name in enumerate(class_names):
        vals = [r['per_class'][c] for r in rows.values()]
        if all(np.isnan(vals)):
            continue
        print(f'| {name} | ' + ' | '.join(f'{v:.1f}' for v in vals) + ' |')


def synthetic(root: str, videos: int) -> None:
    seqs = sequences(dict(
        type='SyntheticVideoDataset', data_root=root, split='test',
        num_videos=videos, frames_per_video=20, height=96, width=128, seed=0,
        label_start=0, label_interval=1))
    rows = {'exact (SyntheticExactFlow)': ground_truth_tc(
        seqs, build_flow_source(dict(type='SyntheticExactFlow')), 5)}
    for preset in ('fast', 'medium'):
        rows[f'DIS {preset}'] = ground_truth_tc(
            seqs, build_flow_source(dict(type='DISFlow', preset=preset)), 5)
    pairs = sum(len(v) - 1 for v in seqs.values())
    print_rows(f'Ground-truth labels of {len(seqs)} synthetic test videos '
               f'({pairs} frame pairs, 96x128)', rows)


def camvid(root: str) -> None:
    checked = build_flow_source(dict(type='ForwardBackwardChecked',
                                     source=DIS_MEDIUM))
    for title, prefix, extra in (
            ('CamVid 15 Hz (val, 0016E5_07959..08159)', 'val', {}),
            ('CamVid Seq05VD (test, 1 s apart)', 'test',
             dict(sequence_prefixes=['Seq05VD']))):
        ds = dict(type='CamVidVideoDataset', data_root=root,
                  data_prefix=dict(img_path=prefix,
                                   seg_map_path=prefix + 'annot'), **extra)
        seqs = sequences(ds)
        names = DATASETS.get('CamVidVideoDataset').METAINFO['classes']
        # one forward-backward checked pass; its forward flow is DIS's own
        cache: Dict = {}

        def source(pa, pb, ia, ib, cache=cache):
            if (pa, pb) not in cache:
                cache[(pa, pb)] = checked(pa, pb, ia, ib)
            return cache[(pa, pb)]

        rows = {'DIS medium': ground_truth_tc(seqs, source, 11, masked=False),
                'DIS medium + FB mask': ground_truth_tc(seqs, source, 11)}
        print_rows(title, rows, names)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--videos', type=int, default=10)
    p.add_argument('--data-root', default=None,
                   help='synthetic data folder; default: a temporary one')
    p.add_argument('--camvid', default=None,
                   help='CamVid (SegNet release) root, e.g. '
                   '../shared/data/camvid')
    args = p.parse_args()
    print(machine_line())
    synthetic(args.data_root or tempfile.mkdtemp(prefix='tc_ceiling_'),
              args.videos)
    if args.camvid:
        camvid(args.camvid)


if __name__ == '__main__':
    main()
