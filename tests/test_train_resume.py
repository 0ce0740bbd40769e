"""Stock MMSeg training through MMEngine's Runner on every video dataset's
labelled frames: train, save, kill, resume, test."""
import copy
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmseg_temporal  # noqa: F401
from mmseg_temporal.utils.checkpoint import read_checkpoint

from conftest import data_cfg_options

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / 'configs' / 'synthetic' / 'pspnet_tiny_baseline_synthetic.py'

pytestmark = pytest.mark.slow


def _recorded_iter(work: Path) -> int:
    """The iteration of the checkpoint ``work/last_checkpoint`` names (MMEngine
    writes it after the checkpoint; 0 before the first)."""
    path = work / 'last_checkpoint'
    found = re.search(r'iter_(\d+)\.pth$', path.read_text().strip()) \
        if path.exists() else None
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize('config', [
    BASELINE,  # a stock EncoderDecoder on the labelled frames
    ROOT / 'configs' / 'synthetic' / 'pspnet_tiny_tl_synthetic.py',  # triplets + TL
], ids=['stock_baseline', 'segmentor_tl'])
def test_train_kill_resume_test(config, default_synthetic_root, tmp_path):
    BASELINE = config  # noqa: N806  (the config under test)
    work = tmp_path / 'work'
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    common = data_cfg_options(default_synthetic_root) + [
        'default_hooks.checkpoint.interval=3', 'train_cfg.val_interval=1000',
        'default_hooks.logger.interval=1']
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(BASELINE), '--work-dir',
         str(work), '--cfg-options', 'train_cfg.max_iters=100000', *common],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    try:  # kill it once it has recorded a checkpoint of iteration >= 6
        while _recorded_iter(work) < 6:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.time() < deadline, 'no checkpoint of iteration >= 6 in 300 s'
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    last = _recorded_iter(work)  # what --resume finds (it may have gone on)
    saved = read_checkpoint(str(work / f'iter_{last}.pth'))
    assert saved['meta']['iter'] == last
    end = last + 3

    out = subprocess.run(
        [sys.executable, 'tools/train.py', str(BASELINE), '--work-dir',
         str(work), '--resume', '--cfg-options', f'train_cfg.max_iters={end}',
         *common], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert f'resumed epoch: 0, iter: {last}' in log
    assert f'Iter(train) [{last + 1}/{end}]' in log and f'Iter(train) [1/{end}]' not in log
    final = read_checkpoint(str(work / f'iter_{end}.pth'))
    assert final['meta']['iter'] == end
    # The optimiser state went on from the saved one (SGD momentum buffers).
    mom6 = [s['momentum_buffer'] for s in saved['optimizer']['state'].values()]
    mom9 = [s['momentum_buffer'] for s in final['optimizer']['state'].values()]
    assert len(mom6) == len(mom9) > 0 and not torch.equal(mom6[0], mom9[0])

    out = subprocess.run(
        [sys.executable, 'tools/test.py', str(BASELINE), str(work / f'iter_{end}.pth'),
         '--work-dir', str(tmp_path / 'test'), '--cfg-options',
         *data_cfg_options(default_synthetic_root)], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert 'mIoU' in log and 'mTC' in log and 'mTC_seq' in log
    assert (tmp_path / 'test' / 'temporal_consistency' / 'tc_per_pair.png').exists()


def _stock_cfg(dataset: dict, test_dataset: dict, num_classes: int, work_dir):
    cfg = Config.fromfile(str(BASELINE))
    cfg.model.decode_head.num_classes = num_classes
    cfg.model.data_preprocessor = dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size=(64, 64))
    pipe = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='RandomResize', scale=(128, 96), ratio_range=(0.5, 1.0),
                 keep_ratio=True),
            dict(type='RandomCrop', crop_size=(64, 64)),
            dict(type='PackSegInputs')]
    test_pipe = [dict(type='LoadImageFromFile'),
                 dict(type='Resize', scale=(128, 96), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    cfg.train_dataloader.dataset = dict(dataset, sample_mode='labelled',
                                        pipeline=pipe)
    cfg.train_dataloader.batch_size = 2
    cfg.test_dataloader.dataset = dict(test_dataset, sample_mode='labelled',
                                       pipeline=test_pipe)
    cfg.val_dataloader = cfg.test_dataloader
    cfg.test_evaluator = cfg.val_evaluator = dict(type='IoUMetric',
                                                  iou_metrics=['mIoU'])
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_cfg.max_iters = 3
    cfg.train_cfg.val_interval = 3
    cfg.default_hooks.checkpoint.interval = 3
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    return cfg


def _train_then_test(cfg):
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.train()
    assert osp.exists(osp.join(cfg.work_dir, 'iter_3.pth'))
    cfg = copy.deepcopy(cfg)
    cfg.load_from = osp.join(cfg.work_dir, 'iter_3.pth')
    cfg.experiment_name = 'test_' + osp.basename(cfg.work_dir)
    metrics = Runner.from_cfg(cfg).test()
    assert 0.0 <= metrics['mIoU'] <= 100.0
    return metrics


def test_stock_encoder_decoder_on_camvid(camvid_root, tmp_path):
    ds = dict(type='CamVidVideoDataset', data_root=str(camvid_root),
              data_prefix=dict(img_path='train', seg_map_path='trainannot'),
              indices=8)
    tds = dict(ds, data_prefix=dict(img_path='test', seg_map_path='testannot'),
               indices=4)
    _train_then_test(_stock_cfg(ds, tds, 11, tmp_path / 'camvid'))


def test_stock_encoder_decoder_on_cityscapes_layout(tmp_path):
    from test_video_datasets import make_cityscapes
    make_cityscapes(tmp_path / 'cs', hw=(48, 64))
    ds = dict(type='CityscapesVideoDataset', data_root=str(tmp_path / 'cs'))
    _train_then_test(_stock_cfg(ds, ds, 19, tmp_path / 'cityscapes'))


def test_stock_encoder_decoder_on_synthetic(tmp_path):
    ds = dict(type='SyntheticVideoDataset', data_root=str(tmp_path / 'data'),
              num_videos=2, frames_per_video=20)
    tds = dict(ds, split='val', num_videos=1)
    _train_then_test(_stock_cfg(ds, tds, 5, tmp_path / 'synthetic'))
