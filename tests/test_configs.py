"""Every config in configs/ loads, its model builds and every type it names
is registered."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS, HOOKS, METRICS, MODELS, TASK_UTILS, TRANSFORMS

import mmseg_temporal  # noqa: F401

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


# Table 1's schemes, named by content (docs/training.md has the same table).
TABLE1 = {
    'a': 'cityscapes/pspnet_r18_d8_baseline_cityscapes.py',
    'b': 'ablation/pspnet_r18_d8_sf_cityscapes.py',
    'c': 'ablation/pspnet_r18_d8_pf_cityscapes.py',
    'd': 'ablation/pspnet_r18_d8_mf_cityscapes.py',
    'e': 'cityscapes/pspnet_r18_d8_tl_cityscapes.py',
    'f': 'ablation/pspnet_r18_d8_pf_mf_cityscapes.py',
    'g': 'ablation/pspnet_r18_d8_pf_tl_cityscapes.py',
    'h': 'ablation/pspnet_r18_d8_pf_mf_tl_cityscapes.py',
    'i': 'ablation/pspnet_r18_d8_sf_pf_mf_cityscapes.py',
    'j': 'cityscapes/pspnet_r18_d8_etc_cityscapes.py',
}
TERMS = dict(sf=('sf_pixel', 'sf_pair'), pf=('pf',), mf=('mf',), tl=('tl',))


def test_there_are_configs():
    assert len(CONFIGS) >= 25
    for path in TABLE1.values():
        assert (ROOT / 'configs' / path).is_file(), path
    assert not list((ROOT / 'configs').rglob('*scheme_*'))


@pytest.mark.parametrize('scheme', sorted(TABLE1))
def test_table1_configs_hold_the_terms_their_names_say(scheme, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(str(ROOT / 'configs' / TABLE1[scheme]))
    name = Path(TABLE1[scheme]).stem
    named = {'baseline': (), 'etc': ('sf', 'pf', 'mf', 'tl')}
    parts = [p for p in name.split('_') if p in TERMS] or \
        named[name.split('_')[-2]]
    want = {t for p in parts for t in TERMS[p]}
    losses = cfg.model.get('losses', {}) if 'student' in cfg.model else {}
    assert set(losses) == want
    teacher = cfg.model.get('teacher')
    assert bool(teacher) == bool(want - {'tl'})
    if teacher:  # the one shared teacher block
        assert teacher.config == \
            'configs/cityscapes/pspnet_r101_d8_teacher_tl_cityscapes.py'
    for v in losses.values():  # every term at the paper's lambda = 0.1
        assert v.get('loss_weight', 1.0) == pytest.approx(0.1)
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert ('ConvLSTMWeightClipHook' in hooks) == ('mf' in want)


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
    for t in _types(cfg.train_dataloader.dataset, []) + \
            _types(cfg.test_dataloader.dataset, []):
        assert DATASETS.get(t) or TRANSFORMS.get(t), t
    evaluators = cfg.get('test_evaluator', [])
    for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
        assert METRICS.get(ev['type']), ev['type']
        for t in _types({k: v for k, v in ev.items() if k != 'type'}, []):
            # the TC metric's flow: a flow source or an estimator
            assert TASK_UTILS.get(t) or MODELS.get(t), t
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
