"""The README's main job, shortened (a few iterations per model): every step
runs, with banners, and the table and outputs appear."""
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[1]


def _quickstart():
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        import quickstart
    finally:
        sys.path.pop(0)
    return quickstart


def test_quickstart_uses_its_own_data_folder():
    qs = _quickstart()
    args = qs.parse_args(['--work-dir', 'w/qs'])
    assert Path(args.data_root) == Path('w/qs/data/synthetic_video_camvid_like')
    assert qs.parse_args(['--data-root', 'd']).data_root == 'd'


@pytest.mark.slow
def test_quickstart_runs_end_to_end(tmp_path):
    out = subprocess.run(
        [sys.executable, 'tools/quickstart.py', '--work-dir', str(tmp_path / 'qs'),
         '--iters', '4', '--demo-frames', '4', '--test-videos', '2',
         '--latency-rounds', '5'],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    for k in range(1, 9):
        assert f'[{k}/8] ' in log, k
    assert 'elapsed' in log and 'total time:' in log
    assert 'mIoU %' in log and 'mTC %' in log and 'mVC_8 %' in log and 'mMC %' in log
    assert 'never predicted' in log and 'exact flow' in log
    assert 'test set 2 videos x 20 frames, 4 training iterations each, ' \
        'seed 0' in log
    # its own data folder
    assert (tmp_path / 'qs' / 'data' / 'synthetic_video_camvid_like' / 'test').is_dir()
    rows = json.loads((tmp_path / 'qs' / 'results.json').read_text())
    assert [r['model'] for r in rows] == ['baseline', '+TL', 'ETC', 'anti-aliased',
                                          'baseline+mcEMA']
    # the anti-aliased student has the plain one's parameters; the smoothed
    # row is the baseline's model
    assert len({r['params'] for r in rows}) == 1 and rows[0]['params'] > 0
    for r in rows[:4]:
        assert 0 <= r['mMC'] <= 100
    assert math.isnan(rows[4]['mMC']) and 'export' not in rows[4]
    for r in rows:
        assert 0 <= r['mIoU'] <= 100 and 0 <= r['mTC'] <= 100
        assert 0 <= r['mVC_8'] <= 100 and r['mTC_gt'] == pytest.approx(100)
        assert r['ms']['p10'] <= r['ms']['median'] <= r['ms']['p90']
        # never-predicted classes are those of the set it does not predict
        assert set(r['never_predicted']) == {
            n for c, n in enumerate(
                ('sky', 'ground', 'vehicle', 'pedestrian', 'sign'))
            if c in r['class_set'] and c not in r['predicted']}
        # the fixed-set mean counts a never-predicted class as 0
        fixed = [r['tc_per_class'][c] for c in r['class_set']]
        assert r['mTC'] == pytest.approx(
            sum(0 if math.isnan(v) else v for v in fixed) / len(fixed), abs=0.01)
    for name in ('baseline', '+TL', 'ETC', 'anti-aliased'):
        assert (tmp_path / 'qs' / 'export' / name / 'student.pth').exists()
    exported = Config.fromfile(str(tmp_path / 'qs' / 'export' / 'anti-aliased' /
                                   'student.py'))
    assert exported.model.backbone.type == 'AntiAliasedResNetV1c'
    for f in ('overlay.mp4', 'tc_curve.png', 'latency.json'):
        assert (tmp_path / 'qs' / 'demo' / f).exists(), f
    assert (tmp_path / 'qs' / 'demo.log').exists()  # beside the folder the demo replaces
    # a quiet console: banners, progress bars and the table, not MMEngine's logs
    assert 'Iter(train)' not in out.stdout and 'System environment' not in out.stdout
    # text=True turns a progress bar's '\r' redraws into lines: count the rest
    bar = re.compile(r'^\[[ >]*\] *\d+/\d+')
    lines = [line for line in out.stdout.split('\n') if not bar.match(line)]
    assert len(lines) <= 100, len(lines)
    # every training run is seeded (--seed, default 0): repeatable figures
    for name in ('baseline', 'tl', 'etc', 'antialiased'):
        cfg = Config.fromfile(str(tmp_path / 'qs' / name / 'config.py'))
        assert cfg.randomness == dict(seed=0), name
