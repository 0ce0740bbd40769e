"""The paired study's pieces (benchmarks/paired_study.py, study_scoring.py,
study_report.py) and the fine-tune resume of apis.experiment."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
import paired_study  # noqa: E402
import study_report  # noqa: E402
import study_scoring  # noqa: E402


def test_ema_logits_by_hand():
    x = torch.tensor([[1.0], [3.0], [0.0]]).view(3, 1, 1, 1)
    out = study_scoring.ema_logits(x, 0.5).flatten().tolist()
    assert out == pytest.approx([1.0, 2.0, 1.0])  # 0.5*1+0.5*3, 0.5*2+0
    assert study_scoring.ema_logits(x, 0.0).flatten().tolist() == [1, 3, 0]
    with pytest.raises(ValueError, match='alpha'):
        study_scoring.ema_logits(x, 1.0)


def test_vspw_video_consistency_hand_values():
    labels = np.zeros((4, 2, 2), np.int64)
    labels[:, 0, 0] = [1, 1, 0, 0]  # (0,0) leaves window 1's common region
    perfect = labels.copy()
    const = np.zeros_like(labels)
    flicker = labels.copy()
    flicker[1, 1, 1] = 1
    # n = 2: windows i = 0, 1 (range(T - n)); common = label[i+1] == label[i]
    f = study_scoring.vspw_video_consistency
    assert f([perfect], [labels], 2)['mVC'] == pytest.approx(100.0)
    # constant 0: window 0 4/4 common pixels agree, window 1 3/3
    assert f([const], [labels], 2)['mVC'] == pytest.approx(100.0)
    # flicker at (1,1) in frame 1: window 0 3/4, window 1 2/3
    assert f([flicker], [labels], 2)['mVC'] == pytest.approx(
        (3 / 4 + 2 / 3) / 2 * 100)
    assert np.isnan(f([perfect[:2]], [labels[:2]], 2)['mVC'])  # T <= n


def test_report_tc_over_fixed_set_counts_never_predicted_as_zero():
    counts = dict(intersect=[90, 50, 0], union=[100, 100, 0])
    assert study_report.tc_over(counts, {0, 1, 2}) == pytest.approx(140 / 3)
    assert study_report.tc_over(counts, {0, 1}) == pytest.approx(70.0)


def test_arms_differ_only_in_the_tl_weight():
    arms = paired_study.ARMS
    assert arms['control']['tl']['loss_weight'] == 0.0
    ctl = dict(arms['control']['tl'], loss_weight=None)
    rel = dict(arms['tl_logits']['tl'], loss_weight=None)
    assert ctl == rel and rel['compare'] == 'logits'
    # lambda 0.1 x (sum over 5 classes) / 5 = the release's 0.1 x MSE
    assert arms['tl_logits']['tl']['loss_weight'] == pytest.approx(0.2)
    assert arms['tl_logits_x10']['tl']['loss_weight'] == pytest.approx(2.0)
    assert arms['tl_prob']['tl']['compare'] == 'prob'


def test_arm_config_fine_tunes_from_the_baseline(tmp_path):
    args = paired_study.parse_args(['--work-dir', str(tmp_path)])
    cfg = paired_study.arm_cfg('control', 3, args, '/b/iter_2000.pth')
    assert cfg.load_from == '/b/iter_2000.pth'
    assert cfg.randomness == dict(seed=3)
    assert cfg.train_cfg.max_iters == 200
    assert cfg.train_dataloader.dataset.sample_mode == 'triplet'
    assert cfg.model.losses == dict(paired_study.ARMS['control'])
    assert cfg.test_dataloader.dataset.data_root == str(tmp_path / 'data')
    assert cfg.work_dir == str(tmp_path / 'seed3' / 'control')


def test_resumed_fine_tune_does_not_resume_from_load_from(tmp_path, monkeypatch):
    from mmengine.config import Config

    from mmseg_temporal.apis import experiment
    seen = {}

    class FakeRunner:
        @staticmethod
        def from_cfg(cfg):
            seen.update(resume=cfg.resume, load_from=cfg.load_from)
            return FakeRunner()

        def train(self):
            pass

    monkeypatch.setattr(experiment, 'Runner', FakeRunner)
    cfg = Config(dict(work_dir=str(tmp_path), load_from='/b/iter_2000.pth',
                      train_cfg=dict(max_iters=300)))
    experiment.train_unless_done(cfg)
    assert seen == dict(resume=False, load_from='/b/iter_2000.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_100.pth'))
    experiment.train_unless_done(cfg)
    assert seen == dict(resume=True, load_from=None)
