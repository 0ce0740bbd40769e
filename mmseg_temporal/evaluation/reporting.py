"""What the temporal metrics print and write, kept out of the metrics: the
per-class TC table, and the per-pair / per-class CSV files and the TC
curve (``tools/test.py`` puts them in ``WORK_DIR/temporal_consistency``).
Every file is written atomically."""
import csv
import io
import os.path as osp
from typing import Dict, List

import numpy as np
from prettytable import PrettyTable

from ..utils.atomic import atomic_write_bytes
from ..visualization import plot_tc_curve

__all__ = ['tc_table', 'write_tc_outputs']


def _fmt(value: float) -> object:
    return round(float(value), 2) if np.isfinite(value) else '-'


def tc_table(res: Dict, class_names: List[str]) -> str:
    """The per-class table: TC, the ground truth's TC under the same flow
    (``TC_gt``, where labelled pairs exist) and whether the model predicts
    the class; ``-`` marks a class outside the class set."""
    predicted = set(int(c) for c in res.get('predicted_classes', []))
    table = PrettyTable()
    table.add_column('Class', class_names)
    table.add_column('TC', [_fmt(v) for v in res['per_class']])
    if res.get('gt') is not None:
        table.add_column('TC_gt', [_fmt(v) for v in res['gt']['per_class']])
    table.add_column('predicted', ['yes' if c in predicted else 'no'
                                   for c in range(len(class_names))])
    return table.get_string()


def _csv_bytes(rows: List[List]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator='\n').writerows(rows)
    return buf.getvalue().encode()


def write_tc_outputs(res: Dict, class_names: List[str],
                     output_dir: str) -> List[str]:
    """Writes ``tc_per_pair.csv`` (seq_name, frame_index of frame t, tc),
    ``tc_per_class.csv`` (class, tc, intersect, union, in the class set,
    tc_gt) and ``tc_per_pair.png`` (one curve per sequence) into
    ``output_dir``; returns their paths."""
    rows = [['seq_name', 'frame_index', 'tc']]
    for name, ids, curve in zip(res['seq_names'], res['frame_indices'],
                                res['per_pair']):
        rows += [[name, i, f'{v:.4f}'] for i, v in zip(ids, curve)]
    pair_csv = osp.join(output_dir, 'tc_per_pair.csv')
    atomic_write_bytes(pair_csv, _csv_bytes(rows))

    k = len(class_names)
    inter = res['intersect'] if len(res['intersect']) else np.zeros(k, int)
    union = res['union'] if len(res['union']) else np.zeros(k, int)
    in_set = (set(res['classes'].tolist()) if res.get('classes') is not None
              else set(range(k)))
    gt = res.get('gt')
    rows = [['class', 'tc', 'intersect', 'union', 'in_class_set', 'tc_gt']]
    for c, name in enumerate(class_names):
        rows.append([name, f'{res["per_class"][c]:.4f}', int(inter[c]),
                     int(union[c]), int(c in in_set),
                     '' if gt is None else f'{gt["per_class"][c]:.4f}'])
    class_csv = osp.join(output_dir, 'tc_per_class.csv')
    atomic_write_bytes(class_csv, _csv_bytes(rows))

    png = plot_tc_curve(
        dict(zip(res['seq_names'], res['per_pair'])),
        osp.join(output_dir, 'tc_per_pair.png'),
        frame_indices=dict(zip(res['seq_names'], res['frame_indices'])),
        overall_mtc=res['mTC'],
        title='Temporal consistency per frame pair')
    return [pair_csv, class_csv, png]
