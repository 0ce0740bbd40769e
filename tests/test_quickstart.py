"""The README's main job, shortened (a few iterations per model): every step
runs and the table and outputs appear."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_quickstart_runs_end_to_end(tmp_path):
    out = subprocess.run(
        [sys.executable, 'tools/quickstart.py', '--work-dir', str(tmp_path / 'qs'),
         '--data-root', str(tmp_path / 'data'), '--iters', '4',
         '--demo-frames', '4', '--test-videos', '2'],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'model' in log and 'mIoU %' in log and 'mTC %' in log
    assert 'test set: 2 videos x 20 frames, 4 training iterations each, ' \
        'seed 0' in log
    rows = json.loads((tmp_path / 'qs' / 'results.json').read_text())
    assert [r['model'] for r in rows] == ['baseline', 'ETC']
    assert rows[0]['params'] == rows[1]['params'] > 0
    for r in rows:
        assert 0 <= r['mIoU'] <= 100 and 0 <= r['mTC'] <= 100 and r['ms'] > 0
    for name in ('baseline', 'ETC'):
        assert (tmp_path / 'qs' / 'export' / name / 'student.pth').exists()
    for f in ('overlay.mp4', 'tc_curve.png', 'latency.json'):
        assert (tmp_path / 'qs' / 'demo' / f).exists(), f
    # every training run is seeded (--seed, default 0): repeatable figures
    from mmengine.config import Config
    for name in ('baseline', 'etc'):
        cfg = Config.fromfile(str(tmp_path / 'qs' / name / 'config.py'))
        assert cfg.randomness == dict(seed=0), name
