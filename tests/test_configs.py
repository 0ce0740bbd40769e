"""Every config in configs/ loads, its model builds, every type it names
is registered and every repository path it names exists or is written."""
import re
from functools import lru_cache
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


# A config's string that names a file of the repository (a teacher config)
# or of a run (a checkpoint): the file must exist, or, under work_dirs/ and
# checkpoints/, be what tools/train.py writes for a config here or be named
# by a script or the docs (the historic logs of benchmarks/ do not count).
REPO_FOLDERS = ('configs', 'tools', 'benchmarks', 'docs', 'tests', 'mmseg_temporal')
OUTPUT_FOLDERS = ('work_dirs', 'checkpoints')
REPO_PATH = re.compile(r'(%s)/\S+\.(py|pth|json)' % '|'.join(REPO_FOLDERS + OUTPUT_FOLDERS))


def _strings(obj):
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [s for v in obj for s in _strings(v)]
    return [obj] if isinstance(obj, str) else []


@lru_cache(maxsize=None)
def _writers_text():
    """What the scripts and the docs say, in one string."""
    files = [ROOT / 'README.md', *(ROOT / 'docs').rglob('*.md'),
             *(ROOT / 'tools').rglob('*.py'), *(ROOT / 'tools').rglob('*.sh'),
             *(p for p in (ROOT / 'benchmarks').rglob('*.py')
               if not any(part.endswith('_logs') for part in p.parts))]
    return '\n'.join(f.read_text() for f in files)


@lru_cache(maxsize=None)
def _max_iters(config):
    return Config.fromfile(str(config)).train_cfg.get('max_iters')


def _train_py_writes(path):
    """Whether tools/train.py writes ``path`` for a config of configs/: its
    last checkpoint, ``work_dirs/<config name>/iter_<max_iters>.pth``."""
    m = re.fullmatch(r'work_dirs/([\w.-]+)/iter_(\d+)\.pth', path)
    return bool(m) and any(_max_iters(c) == int(m[2])
                           for c in CONFIGS if c.stem == m[1])


def _stale(path):
    """Why ``path``, named by a config, points at nothing ('' if it does not)."""
    if path.split('/')[0] in OUTPUT_FOLDERS:
        if _train_py_writes(path) or path in _writers_text():
            return ''
        return 'no script writes it, no doc names it'
    return '' if (ROOT / path).is_file() else 'no such file in the repository'


def test_stale_path_check_flags_what_nothing_writes(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert not _stale('configs/camvid_cpu/pspnet_small_teacher_tl_camvid_cpu.py')
    assert not _stale('work_dirs/pspnet_small_teacher_tl_synthetic/iter_600.pth')
    assert not _stale('work_dirs/camvid_study/teacher/iter_300.pth')  # docs/results.md
    # 0.1.x's CPU ETC teacher: written by nothing
    assert _stale('work_dirs/camvid_cpu_study/teacher/iter_600.pth')
    assert _stale('work_dirs/pspnet_small_teacher_tl_synthetic/iter_601.pth')
    assert _stale('work_dirs/no_such_config/iter_600.pth')
    assert _stale('checkpoints/no_such_weights.pth')
    assert _stale('configs/camvid_cpu/pspnet_tiny_baseline_camvid_cpu_15hz.py')  # renamed


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_config_names_no_stale_path(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    named = {s for s in _strings(Config.fromfile(str(path)).to_dict())
             if REPO_PATH.fullmatch(s)}
    assert {s: _stale(s) for s in named if _stale(s)} == {}
