"""Every config in configs/ loads, its model builds and every type it names
is registered."""
from pathlib import Path

import pytest

import mmseg_temporal  # noqa: F401
from mmengine.config import Config
from mmseg.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts)


def _types(obj, found):
    if isinstance(obj, dict):
        if 'type' in obj and isinstance(obj['type'], str):
            found.append(obj['type'])
        for v in obj.values():
            _types(v, found)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _types(v, found)
    return found


def test_there_are_configs():
    names = {p.name for p in CONFIGS}
    assert len(CONFIGS) >= 25
    for scheme in 'abcdefghij':
        assert f'pspnet_r18_d8_scheme_{scheme}_cityscapes.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_config_builds(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # teacher configs are named relative to the repo
    cfg = Config.fromfile(str(path))
    assert cfg.get('custom_imports', {}).get('imports') == ['mmseg_temporal']
    model = cfg.model.copy()
    if model.get('teacher'):
        model.teacher.checkpoint = None  # no weights on this machine
    if model.get('flow') and model.flow.get('type') == 'FlowNet2':
        model.flow = None  # built once in test_flownet2_config_builds
    built = MODELS.build(model)
    assert sum(p.numel() for p in built.parameters()) > 0
    registries = dict(model=MODELS, train_dataloader=DATASETS,
                      test_dataloader=DATASETS)
    for t in _types(cfg.train_dataloader.dataset, []) + \
            _types(cfg.test_dataloader.dataset, []):
        assert DATASETS.get(t) or TRANSFORMS.get(t), t
    evaluators = cfg.get('test_evaluator', [])
    for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
        assert METRICS.get(ev['type']), ev['type']
        for t in _types({k: v for k, v in ev.items() if k != 'type'}, []):
            assert MODELS.get(t), t  # e.g. the TC metric's flow estimator
    for t in _types(cfg.get('custom_hooks', []), []):
        assert HOOKS.get(t), t


def test_flownet2_config_builds():
    cfg = Config.fromfile(str(ROOT / 'configs/cityscapes/pspnet_r18_d8_tl_cityscapes.py'))
    flow = cfg.model.flow.copy()
    assert flow.type == 'FlowNet2'
    flow.checkpoint = None
    net = MODELS.build(flow)
    assert sum(p.numel() for p in net.parameters()) == 162_518_834


def test_camvid_temporal_test_set(camvid_root, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(str(ROOT / 'configs/camvid/mobilenetv2_d8_pspnet_etc_camvid.py'))
    ds_cfg = cfg.test_dataloader.dataset.copy()
    ds_cfg.data_root = str(camvid_root)
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 233  # the whole test split, every frame labelled
    sample = ds[len(ds) - 1]['data_samples']
    assert sample.seq_name.startswith('Seq05VD') and sample.frame_index == 170
    assert 'gt_sem_seg' in sample
    tc = [e for e in cfg.test_evaluator if e['type'] == 'TemporalConsistencyMetric']
    assert tc and tc[0]['sequence_prefixes'] == ['Seq05VD']
