"""experiments.study_config: the one adjuster of the main job's and the
studies' configs."""
from pathlib import Path

import pytest

from mmseg_temporal.experiments import study_config

ROOT = Path(__file__).resolve().parents[1]
TL = ROOT / 'configs' / 'camvid_cpu' / 'pspnet_tiny_etc_camvid_cpu.py'
SYN = ROOT / 'configs' / 'synthetic' / 'pspnet_tiny_baseline_synthetic.py'


def test_sets_the_run_and_keeps_what_it_is_not_given(tmp_path):
    cfg = study_config(str(SYN), str(tmp_path / 'run_a'), seed=3, iters=40,
                       ckpt_every=10, data_root='/data/x')
    assert cfg.work_dir == str(tmp_path / 'run_a')
    assert cfg.randomness == dict(seed=3)
    assert cfg.train_cfg.max_iters == 40 and cfg.train_cfg.val_interval == 40
    assert cfg.param_scheduler[0].end == 40
    assert cfg.default_hooks.checkpoint.interval == 10
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 2
    assert cfg.visualizer.name == 'visualizer_run_a'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.data_root == '/data/x'
    plain = study_config(str(SYN), str(tmp_path / 'b'), 0, 40)
    from mmengine.config import Config
    base = Config.fromfile(str(SYN))
    assert plain.train_dataloader.num_workers == base.train_dataloader.num_workers
    assert plain.default_hooks.logger.interval == base.default_hooks.logger.interval
    assert plain.train_dataloader.dataset.data_root == base.train_dataloader.dataset.data_root
    assert 'ProgressBarHook' not in str(plain.get('custom_hooks', []))


def test_workers_quiet_and_teacher_path(tmp_path):
    cfg = study_config(str(TL), str(tmp_path / 'r'), 0, 10, workers=2,
                       repo_root='/repo', quiet=True)
    assert cfg.train_dataloader.num_workers == 2
    assert cfg.train_dataloader.persistent_workers is True
    assert cfg.test_dataloader.num_workers == 0
    assert not cfg.test_dataloader.persistent_workers
    assert cfg.model.teacher.config.startswith('/repo/configs/')
    assert cfg.console_log_level == 'ERROR'
    assert cfg.custom_hooks[-1]['type'] == 'ProgressBarHook'


@pytest.mark.parametrize('bad', ['no/such/config.py'])
def test_missing_config_is_named(bad, tmp_path):
    with pytest.raises(FileNotFoundError, match='config.py'):
        study_config(bad, str(tmp_path), 0, 1)


def test_a_run_folder_keeps_its_model(tmp_path):
    """A study started again with another student in the same work dir is
    refused before anything trains or a checkpoint of the other model is
    reused."""
    from mmseg_temporal.experiments.records import train_recorded
    mnv2 = ROOT / 'configs' / 'camvid_cpu' / 'mobilenetv2_tiny_baseline_camvid_cpu.py'
    tiny = ROOT / 'configs' / 'camvid_cpu' / 'pspnet_tiny_baseline_camvid_cpu.py'
    run = tmp_path / 'seed0' / 'plain'
    first = study_config(str(tiny), str(run), 0, 10)
    run.mkdir(parents=True)
    first.dump(str(run / 'study_config.py'))
    (run / 'iter_10.pth').write_bytes(b'the tiny run')  # done: nothing trains
    assert train_recorded(first, 'tiny', str(tmp_path / 'logs')) == str(run / 'iter_10.pth')
    with pytest.raises(ValueError, match='another model'):
        train_recorded(study_config(str(mnv2), str(run), 0, 10), 'mnv2',
                       str(tmp_path / 'logs'))
    assert (run / 'iter_10.pth').read_bytes() == b'the tiny run'


def test_bf16_precision_swaps_the_wrapper_and_keeps_the_optimiser(tmp_path, monkeypatch):
    """``precision='bf16'`` trains under CPU autocast with the config's own
    optimiser; on a CPU without bf16 hardware it is refused, naming it."""
    from mmseg_temporal.utils import cpu_info
    fp32 = study_config(str(SYN), str(tmp_path / 'a'), 0, 10)
    monkeypatch.setattr(cpu_info, 'native_bf16', lambda: True)
    bf16 = study_config(str(SYN), str(tmp_path / 'b'), 0, 10, precision='bf16')
    assert bf16.optim_wrapper.type == 'CPUAutocastOptimWrapper'
    assert bf16.optim_wrapper.dtype == 'bfloat16'
    assert bf16.optim_wrapper.optimizer == fp32.optim_wrapper.optimizer
    assert fp32.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    monkeypatch.setattr(cpu_info, 'native_bf16', lambda: False)
    with pytest.raises(cpu_info.CPUFeatureError, match='pspnet_tiny_baseline_synthetic.py'):
        study_config(str(SYN), str(tmp_path / 'c'), 0, 10, precision='bf16')
    with pytest.raises(ValueError, match='fp16'):
        study_config(str(SYN), str(tmp_path / 'd'), 0, 10, precision='fp16')


def test_a_run_refuses_to_resume_in_another_precision(tmp_path, monkeypatch):
    from mmseg_temporal.experiments.records import train_recorded
    from mmseg_temporal.utils import cpu_info
    monkeypatch.setattr(cpu_info, 'native_bf16', lambda: True)
    run = tmp_path / 'run'
    first = study_config(str(SYN), str(run), 0, 10)
    run.mkdir()
    first.dump(str(run / 'study_config.py'))
    (run / 'iter_10.pth').write_bytes(b'fp32 run')
    with pytest.raises(ValueError, match='CPUAutocastOptimWrapper.*another precision'):
        train_recorded(study_config(str(SYN), str(run), 0, 10, precision='bf16'), 'r',
                       str(tmp_path / 'logs'))


def test_cached_scores_of_an_older_format_are_refused(tmp_path):
    import json

    from mmseg_temporal.experiments.records import cached_json
    path = tmp_path / 'score.json'
    path.write_text(json.dumps({'variants': {}}))
    with pytest.raises(ValueError, match=r"score.json: cached scores without \['mIoU'\]"):
        cached_json(str(path), lambda: {'mIoU': 1.0}, required=('mIoU', ))
    assert cached_json(str(path), lambda: {'mIoU': 1.0}, recompute=True,
                       required=('mIoU', )) == {'mIoU': 1.0}
    assert cached_json(str(path), lambda: {}, required=('mIoU', )) == {'mIoU': 1.0}
