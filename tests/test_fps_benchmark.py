"""MMSeg's own benchmark.py measures the fps of an exported student on the
CPU, without the plugin (docs/export.md)."""
import json
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

import cv2
import mmseg
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401
from mmseg_temporal.deploy.export import export_student

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = Path(osp.dirname(mmseg.__file__)) / '.mim' / 'tools' / 'analysis_tools' / 'benchmark.py'
pytestmark = pytest.mark.slow


def test_mmseg_benchmark_on_exported_student(tmp_path):
    assert BENCHMARK.exists(), f'MMSeg benchmark script not found at {BENCHMARK}'
    config = ROOT / 'configs/synthetic/pspnet_tiny_baseline_video_synthetic.py'
    model = MODELS.build(Config.fromfile(str(config)).model)
    model.init_weights()
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    cfg_path, ckpt_path = export_student(str(config), str(ckpt), str(tmp_path / 'export'))

    rng = np.random.default_rng(0)
    for i in range(210):  # benchmark.py times 200 frames after 5 warm-up ones
        os.makedirs(tmp_path / 'data' / 'img', exist_ok=True)
        os.makedirs(tmp_path / 'data' / 'ann', exist_ok=True)
        cv2.imwrite(str(tmp_path / 'data' / 'img' / f'{i:04d}.png'),
                    rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
        cv2.imwrite(str(tmp_path / 'data' / 'ann' / f'{i:04d}.png'),
                    rng.integers(0, 5, (96, 128), dtype=np.uint8))
    cfg = Config.fromfile(cfg_path)
    cfg.test_dataloader = dict(
        batch_size=1, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='BaseSegDataset', data_root=str(tmp_path / 'data'),
                     data_prefix=dict(img_path='img', seg_map_path='ann'),
                     img_suffix='.png', seg_map_suffix='.png',
                     metainfo=dict(classes=tuple('abcde')),
                     pipeline=cfg.test_pipeline))
    bench_cfg = tmp_path / 'student_bench.py'
    cfg.dump(str(bench_cfg))
    out = subprocess.run(
        [sys.executable, str(BENCHMARK), str(bench_cfg), ckpt_path,
         '--work-dir', str(tmp_path / 'fps'), '--log-interval', '100'],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='2'))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert 'mmseg_temporal' not in log
    assert 'Overall fps' in log
    result = json.loads(next((tmp_path / 'fps').glob('fps_*.json')).read_text())
    assert result['average_fps'] > 0 and np.isfinite(result['average_fps'])
