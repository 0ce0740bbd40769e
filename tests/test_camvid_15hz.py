"""The CamVid 15 Hz temporal test set (the release's `val` run): one densely
labelled sequence, and tools/test.py printing mIoU, mTC, mTC_gt, mVC_8 and
mVC_16 in one stock test loop. Needs ../shared/data/camvid."""
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/camvid_cpu/camvid_cpu_15hz_test.py'


def test_val_run_is_one_densely_labelled_sequence(camvid_root, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(str(ROOT / CONFIG))
    ds_cfg = cfg.test_dataloader.dataset.copy()
    ds_cfg.data_root = str(camvid_root)
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 101
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert {i['seq_name'] for i in infos} == {'0016E5@07959'}
    assert [i['frame_index'] for i in infos] == list(range(101))
    assert all(i['seg_map_path'] for i in infos)
    assert infos[-1]['img_path'].endswith('0016E5_08159.png')
    sample = ds[50]['data_samples']
    assert 'gt_sem_seg' in sample and sample.frame_index == 50
    types = [e['type'] for e in cfg.test_evaluator]
    assert types == ['SparseIoUMetric', 'TemporalConsistencyMetric',
                     'VideoConsistencyMetric']
    assert cfg.test_evaluator[1]['flow'] == dict(type='DISFlow',
                                                 preset='medium')


EMA_CONFIG = 'configs/camvid_cpu/camvid_cpu_15hz_ema_test.py'


@pytest.mark.slow
@pytest.mark.parametrize('test_config', [CONFIG, EMA_CONFIG])
def test_tools_test_prints_every_figure(camvid_root, tmp_path, test_config):
    """A random-init student on the first 24 frames of the run (a
    cfg-option keeps it short): the log holds every figure; the EMA-smoothed
    config tests the same checkpoint."""
    import torch
    from mmseg.registry import MODELS

    import mmseg_temporal  # noqa: F401
    cfg = Config.fromfile(str(ROOT / CONFIG))
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = tmp_path / 'student.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = subprocess.run(
        [sys.executable, 'tools/test.py', test_config, str(ckpt), '--work-dir',
         str(tmp_path / 'work'), '--cfg-options',
         f'test_dataloader.dataset.data_root={camvid_root}',
         'test_dataloader.dataset.indices=24', 'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False'],
        cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS='1'),
        capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    final = re.search(r'Iter\(test\) \[24/24\].*', log)
    assert final, log[-4000:]
    for key in ('mIoU', 'mTC', 'mTC_gt', 'mTC_pred', 'mVC_8', 'mVC_16'):
        assert re.search(rf'\b{key}: [\d.]+', final.group(0)), key
    tc_dir = tmp_path / 'work' / 'temporal_consistency'
    with open(tc_dir / 'tc_per_pair.csv') as f:
        pairs = list(csv.DictReader(f))
    # 24 frames of one sequence: 23 consecutive pairs, each scored
    assert len({p['seq_name'] for p in pairs}) == 1
    assert [int(p['frame_index']) for p in pairs] == list(range(23))
    with open(tc_dir / 'tc_per_class.csv') as f:
        per_class = list(csv.DictReader(f))
    # the default class set: the classes the scored frames' labels hold,
    # i.e. those the ground truth's own TC is measured on (all 11 here)
    assert len(per_class) == 11
    in_set = {r['class'] for r in per_class if r['in_class_set'] == '1'}
    labelled = {r['class'] for r in per_class if r['tc_gt'] not in ('', 'nan')}
    assert in_set == labelled and in_set
    assert (tc_dir / 'tc_per_pair.png').exists()
