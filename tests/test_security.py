"""Security (issue 20): no checkpoint and no exported config can run code.

Each attack is built here, as a hostile file would carry it, and each one
writes a marker file into ``tmp_path`` if its code runs. A control shows the
attack is real (it runs where loading is unrestricted, or under the old
allow-list with ``builtins.getattr``); then every load path of the project
refuses it with a :class:`CheckpointError` and the marker stays absent.
"""
import collections
import copy
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.registry import MODELS

import mmseg_temporal  # noqa: F401  (the weights-only MMEngine loader)
from mmseg_temporal.utils.checkpoint import (
    CheckpointError,
    checkpoint_safe_globals,
    read_checkpoint,
)
from mmseg_temporal.utils.runner import CheckedLoadRunner

ROOT = Path(__file__).resolve().parents[1]
SYN = ROOT / 'configs' / 'synthetic'
BASELINE = SYN / 'pspnet_tiny_baseline_synthetic.py'
DISTILL = SYN / 'pspnet_tiny_tl_synthetic.py'


class _Call:
    """Pickles as ``func(*args)`` (pickle's REDUCE)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class _Planted:
    """Pickles as an ``OrderedDict`` whose attributes ``state`` sets
    (pickle's BUILD, which torch's weights-only unpickler allows on it)."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return collections.OrderedDict, (), self.state


def getattr_gadget(marker: Path) -> _Planted:
    """The issue's gadget: ``getattr(getattr, '__self__')`` is the builtins
    module, ``getattr(builtins, 'exec')`` its exec; an OrderedDict whose
    ``__reduce_ex__`` is a dict's bound ``.get`` returns ``(exec, (code,))``
    when ``copy.deepcopy`` reduces it, and deepcopy then calls it."""
    builtins_module = _Call(getattr, getattr, '__self__')
    exec_ = _Call(getattr, builtins_module, 'exec')
    code = f"open({str(marker)!r}, 'w').write('code ran')"
    table = {4: (exec_, (code,))}  # deepcopy calls __reduce_ex__(4)
    return _Planted({'__reduce_ex__': _Call(getattr, table, 'get')})


def with_gadget(ckpt: dict, gadget) -> dict:
    """``ckpt`` with ``gadget`` where MMEngine deep-copies on resume:
    ``message_hub['runtime_info']``."""
    ckpt = dict(ckpt)
    hub = dict(ckpt.get('message_hub') or dict(
        log_scalars={}, runtime_info={}, resumed_keys={}))
    hub['runtime_info'] = dict(hub['runtime_info'], evil=gadget)
    hub['resumed_keys'] = dict(hub['resumed_keys'], evil=True)
    ckpt['message_hub'] = hub
    return ckpt


def system_pickle(marker: Path) -> bytes:
    """A plain pickle, by its opcodes: ``os.system('touch MARKER')``."""
    cmd = f'touch {marker}'.encode()
    return (b'\x80\x02' + b'cos\nsystem\n' + b'X' + struct.pack('<I', len(cmd))
            + cmd + b'\x85' + b'R' + b'.')  # PROTO GLOBAL BINUNICODE TUPLE1 REDUCE STOP


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / 'code_ran'
    yield path
    assert not path.exists(), 'the attack ran code'


@pytest.fixture(scope='module')
def student_state():
    """The weights of the synthetic configs' tiny PSPNet student."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(Config.fromfile(str(BASELINE)).model).state_dict()


def _refused(call, match='getattr'):
    with pytest.raises(CheckpointError, match=match) as err:
        call()
    assert '\n' not in str(err.value)
    assert 'could run code' in str(err.value) or 'pickle gadget' in str(err.value)
    return str(err.value)


def test_the_getattr_gadget_is_real(tmp_path):
    """Controls: unrestricted loading, and weights-only loading with the
    old allow-list (``builtins.getattr`` in it), both run the code when the
    message hub is deep-copied."""
    path = tmp_path / 'evil.pth'
    for n, load in enumerate([
            lambda: torch.load(path, weights_only=False),
            lambda: _old_allow_list_load(path)]):
        marker = tmp_path / f'ran_{n}'
        torch.save(with_gadget({'state_dict': {'w': torch.ones(1)}},
                               getattr_gadget(marker)), path)
        ckpt = load()
        assert not marker.exists()
        copy.deepcopy(ckpt['message_hub']['runtime_info'])
        assert marker.read_text() == 'code ran'


def _old_allow_list_load(path):
    old = [g for g in checkpoint_safe_globals() if not isinstance(g, tuple)]
    with torch.serialization.safe_globals(old + [getattr]):
        return torch.load(path, weights_only=True)


def test_reader_refuses_the_getattr_gadget(tmp_path, marker):
    path = tmp_path / 'evil.pth'
    torch.save(with_gadget({'state_dict': {'w': torch.ones(1)}},
                           getattr_gadget(marker)), path)
    msg = _refused(lambda: read_checkpoint(str(path)))
    assert msg.startswith(f'checkpoint {path}: holds a Python object '
                          "(getattr(getattr, '__self__'))")
    _refused(lambda: _load_checkpoint(str(path), map_location='cpu'))  # MMEngine's


def test_getattr_added_elsewhere_stays_out(tmp_path, marker):
    """A process that allowed ``getattr`` globally (or torch's own
    ``safe_globals`` context around the call) does not reopen the hole, and
    the reader leaves the process's allow-list as it found it."""
    path = tmp_path / 'evil.pth'
    torch.save(with_gadget({'state_dict': {'w': torch.ones(1)}},
                           getattr_gadget(marker)), path)
    before = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([getattr])
    try:
        allowed = set(torch.serialization.get_safe_globals())
        _refused(lambda: read_checkpoint(str(path)))
        assert set(torch.serialization.get_safe_globals()) == allowed
        with torch.serialization.safe_globals([getattr]):
            _refused(lambda: read_checkpoint(str(path)))
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)
    allowed = torch.serialization.get_safe_globals()
    assert getattr not in allowed and not any(
        isinstance(g, tuple) for g in allowed)


def test_planted_attribute_without_getattr_is_refused(tmp_path, marker):
    """The same BUILD trick with a callable the allow-list does hold."""
    path = tmp_path / 'planted.pth'
    torch.save(with_gadget({'state_dict': {'w': torch.ones(1)}}, _Planted(
        {'__reduce_ex__': collections.OrderedDict})), path)
    msg = _refused(lambda: read_checkpoint(str(path)), match='pickle gadget')
    assert 'OrderedDict.__reduce_ex__' in msg


def test_history_buffer_table_cannot_be_changed(tmp_path):
    """A checkpoint may not rename HistoryBuffer's statistics (its
    ``__setstate__`` updates a process-wide table)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    buf = HistoryBuffer([1.0, 3.0], [1, 1])
    buf._statistics_methods = {'mean': HistoryBuffer.max}
    path = tmp_path / 'tampered.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'buf': buf}, path)
    _refused(lambda: read_checkpoint(str(path)),
             match='changed HistoryBuffer statistics table')
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean
    assert HistoryBuffer([1.0, 3.0], [1, 1]).statistics('mean') == 2.0


def test_plain_system_pickle_is_refused(tmp_path, marker):
    data = system_pickle(marker)
    control = tmp_path / 'control'
    assert pickle.loads(system_pickle(control)) == 0 and control.exists()
    raw = tmp_path / 'raw.pth'
    raw.write_bytes(data)
    zipped = tmp_path / 'zipped.pth'
    torch.save({'state_dict': {}, 'meta': _Call(os.system, f'touch {marker}')},
               zipped)
    for path in (raw, zipped):
        _refused(lambda: read_checkpoint(str(path)), match=r'\(os.system|posix')
    exec_path = tmp_path / 'exec.pth'
    torch.save({'meta': _Call(exec, f"open({str(marker)!r}, 'w')")}, exec_path)
    _refused(lambda: read_checkpoint(str(exec_path)), match=r'\((builtins\.)?exec\)')


# --- every load path ------------------------------------------------------

def _toy_loader():
    from torch.utils.data import DataLoader, default_collate
    data = [dict(inputs=torch.randn(3, 4, 4)) for _ in range(4)]
    return DataLoader(data, batch_size=2, collate_fn=default_collate)


class _LossToy(BaseModel):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.conv(inputs)
        return dict(loss=out.square().mean()) if mode == 'loss' else out


def _toy_runner(work, name, runner_type=Runner, **kwargs):
    return runner_type(
        model=_LossToy(), work_dir=str(work), experiment_name=name,
        train_dataloader=_toy_loader(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=kwargs.pop('iters', 2)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        **kwargs)


@pytest.mark.parametrize('runner_type', [Runner, CheckedLoadRunner],
                         ids=['mmengine_runner', 'checked_load_runner'])
def test_resume_refuses_the_gadget(tmp_path, marker, runner_type):
    """MMEngine's resume (plain Runner, and tools/train.py's), where the
    message hub is deep-copied: a saved checkpoint resumes; the same one
    with the gadget in ``message_hub.runtime_info`` is refused."""
    work = tmp_path / 'work'
    _toy_runner(work, 'first', runner_type).train()
    saved = read_checkpoint(str(work / 'iter_2.pth'))  # our own file
    hub = saved['message_hub']
    assert 'train/loss' in hub['log_scalars'] and 'iter' in hub['runtime_info']
    resumed = _toy_runner(work, 'resumed', runner_type, resume=True, iters=3)
    resumed.train()
    assert resumed.iter == 3
    assert len(resumed.message_hub.get_scalar('train/loss').data[0]) == 3
    assert resumed.message_hub.get_scalar('train/loss').mean() > 0

    torch.save(with_gadget(saved, getattr_gadget(marker)), work / 'iter_3.pth')
    (work / 'last_checkpoint').write_text(str(work / 'iter_3.pth'))
    _refused(_toy_runner(work, 'evil', runner_type, resume=True, iters=4).train)
    _refused(lambda: _toy_runner(work, 'evil_from', runner_type,
                                 load_from=str(work / 'iter_3.pth')).train())


@pytest.fixture
def evil_checkpoint(tmp_path, marker, student_state):
    """A checkpoint of the tiny PSPNet (as a TemporalDistillSegmentor's
    student) carrying the gadget."""
    path = tmp_path / 'evil_student.pth'
    state = {f'student.{k}': v for k, v in student_state.items()}
    torch.save(with_gadget({'state_dict': state, 'meta': {}},
                           getattr_gadget(marker)), path)
    return str(path)


def test_teacher_refuses_the_gadget(evil_checkpoint):
    from mmseg_temporal.models.segmentors.teacher import build_frozen_teacher
    student = MODELS.build(Config.fromfile(str(BASELINE)).model)
    _refused(lambda: build_frozen_teacher(
        dict(config=str(BASELINE), checkpoint=evil_checkpoint), student))


def test_export_refuses_the_gadget(evil_checkpoint, tmp_path):
    from mmseg_temporal.deploy.export import export_student
    out = tmp_path / 'export'
    _refused(lambda: export_student(str(DISTILL), evil_checkpoint, str(out)))
    assert not out.exists()


def test_inferencer_refuses_the_gadget(evil_checkpoint):
    from mmseg_temporal.inference.frame_models import build_frame_model
    from mmseg_temporal.inference.inferencer import VideoInferencer
    _refused(lambda: VideoInferencer(str(DISTILL), evil_checkpoint))
    _refused(lambda: build_frame_model(str(BASELINE), evil_checkpoint))


def test_onnx_export_refuses_the_gadget(evil_checkpoint, tmp_path):
    from mmseg_temporal.deploy.onnx_export import export_onnx
    out = tmp_path / 'model.onnx'
    _refused(lambda: export_onnx(str(DISTILL), evil_checkpoint, str(out)))
    assert not out.exists()


def test_study_test_loop_refuses_the_gadget(evil_checkpoint, tmp_path):
    """Every study scores through the stock test loop of the checked runner
    (``experiments.steps.test_checkpoint``)."""
    from mmengine.config import Config

    from mmseg_temporal.experiments.steps import test_checkpoint
    cfg = Config.fromfile(str(DISTILL))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.test_dataloader.dataset.update(data_root=str(tmp_path / 'data'), num_videos=1)
    _refused(lambda: test_checkpoint(cfg, evil_checkpoint))


def test_mmseg_init_model_refuses_the_gadget(evil_checkpoint):
    """Stock ``mmseg.apis.init_model`` with the plugin imported reads
    through the same reader (MMEngine's local-file scheme)."""
    from mmseg.apis import init_model
    _refused(lambda: init_model(str(BASELINE), evil_checkpoint, device='cpu'))


# --- exports write data, not code -----------------------------------------

CLASSES = ['sky', 'ground', 'vehicle', 'pedestrian', 'sign']
PALETTE = [[70, 130, 180], [128, 64, 128], [0, 0, 142], [220, 20, 60],
           [220, 220, 0]]


def injection(marker: Path) -> str:
    """Text that becomes ``os.system(...)`` where a config writer puts it
    between quotes unescaped (MMEngine's ``pretty_text`` does for keys)."""
    return f"x': __import__('os').system('touch {marker}'), 'y"


def _distill_checkpoint(path: Path, state: dict, dataset_meta: dict) -> str:
    torch.save({'state_dict': {f'student.{k}': v for k, v in state.items()},
                'meta': {'dataset_meta': dataset_meta}}, path)
    return str(path)


def test_config_key_injection_is_real(tmp_path):
    """Control: a dataset_meta key written by MMEngine's ``pretty_text`` (the
    exporter's old writer) runs when the config is loaded."""
    ran = tmp_path / 'ran'
    cfg_file = tmp_path / 'student.py'
    cfg_file.write_text(Config(dict(dataset_meta={injection(ran): 1})).pretty_text)
    Config.fromfile(str(cfg_file))
    assert ran.exists()


def test_export_refuses_an_injected_key(tmp_path, marker, student_state):
    from mmseg_temporal.deploy.export import export_student
    out = tmp_path / 'export'
    out.mkdir()
    (out / 'student.py').write_text('previous = 1\n')
    ckpt = _distill_checkpoint(tmp_path / 'distill.pth', student_state, dict(
        classes=CLASSES, palette=PALETTE, **{injection(marker): 1}))
    with pytest.raises(CheckpointError) as err:
        export_student(str(DISTILL), ckpt, str(out))
    msg = str(err.value)
    assert '\n' not in msg and "meta.dataset_meta has the key \"x': __import__" in msg
    assert sorted(p.name for p in out.iterdir()) == ['student.py']
    assert (out / 'student.py').read_text() == 'previous = 1\n'
    for bad, what in [(dict(classes=[1, 2]), 'must be a non-empty list of str'),
                      (dict(palette=[[0, 0, 256]]), r'\[r, g, b\] ints in 0..255'),
                      (dict(reduce_zero_label='yes'), 'must be True or False'),
                      (dict(extra=collections.OrderedDict), 'has the key'),
                      (dict(classes=['{{$HOME}}']), "'{{' and '}}' are not")]:
        ckpt = _distill_checkpoint(tmp_path / 'bad.pth', student_state, bad)
        with pytest.raises(CheckpointError, match=what):
            export_student(str(DISTILL), ckpt, str(out))


def test_export_neutralises_injected_class_names(tmp_path, marker, student_state):
    """Class names are data: written as string literals, read back as they
    were, and loading the exported config runs nothing."""
    from mmseg_temporal.deploy.export import export_student
    classes = [injection(marker), 'a"b\\', "c'''d", 'e\nf', 'pedestrian']
    meta = dict(classes=classes, palette=PALETTE, reduce_zero_label=False,
                label_map={1: 2}, note='dropped')
    ckpt = _distill_checkpoint(tmp_path / 'distill.pth', student_state, meta)
    cfg_path, ckpt_path = export_student(str(DISTILL), ckpt, str(tmp_path / 'out'))
    exported = Config.fromfile(cfg_path)
    assert exported.dataset_meta == dict(classes=classes, palette=PALETTE,
                                         reduce_zero_label=False)
    saved = torch.load(ckpt_path)  # torch's default: weights only
    assert saved['meta']['dataset_meta'] == exported.dataset_meta


EXPORT_CHECK = '''
import importlib.abc, json, sys
import numpy as np

class NoPlugin(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'mmseg_temporal':
            raise ImportError('the export imported mmseg_temporal')

sys.meta_path.insert(0, NoPlugin())
from mmseg.apis import inference_model, init_model
cfg, ckpt = sys.argv[1:3]
model = init_model(cfg, ckpt, device='cpu')
img = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
pred = inference_model(model, img).pred_sem_seg.data
assert 'mmseg_temporal' not in sys.modules
print(json.dumps(dict(shape=list(pred.shape), classes=model.dataset_meta['classes'])))
'''


def test_export_loads_in_stock_mmseg(tmp_path, student_state):
    """A normal export: stock ``init_model`` + ``inference_model`` in a
    process that cannot import the plugin; the export names its source by
    file name and sha256, not by a local path."""
    import hashlib
    import json

    from mmseg_temporal.deploy.export import export_student
    ckpt = _distill_checkpoint(tmp_path / 'distill.pth', student_state,
                               dict(classes=CLASSES, palette=PALETTE))
    cfg_path, ckpt_path = export_student(str(DISTILL), ckpt, str(tmp_path / 'out'))
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    res = subprocess.run([sys.executable, '-c', EXPORT_CHECK, cfg_path, ckpt_path],
                         cwd=tmp_path, env=dict(env, OMP_NUM_THREADS='1'),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info == dict(shape=[1, 96, 128], classes=CLASSES)
    source = torch.load(ckpt_path)['meta']['exported_from']
    assert source == dict(file='distill.pth', sha256=hashlib.sha256(
        Path(ckpt).read_bytes()).hexdigest())
    for path in (cfg_path, ckpt_path):
        assert str(tmp_path).encode() not in Path(path).read_bytes()
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
        'student.pth', 'student.py']


def test_export_tool_refuses_a_misfit(tmp_path, student_state):
    """A 5-class checkpoint for an 11-class config: exit 1, one line,
    nothing written (a previous export stays as it was)."""
    cfg = Config.fromfile(str(DISTILL))
    cfg.model.student.decode_head.num_classes = 11
    cfg_file = tmp_path / 'eleven.py'
    cfg.dump(str(cfg_file))
    ckpt = _distill_checkpoint(tmp_path / 'five.pth', student_state,
                               dict(classes=CLASSES, palette=PALETTE))
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'student.pth').write_bytes(b'previous')
    for folder in (out, tmp_path / 'new'):
        res = subprocess.run(
            [sys.executable, 'tools/export_student.py', str(cfg_file), ckpt,
             str(folder)], cwd=ROOT, capture_output=True, text=True,
            timeout=300, env=dict(os.environ, OMP_NUM_THREADS='1'))
        assert res.returncode == 1, res.stderr[-2000:]
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            f'error: checkpoint to export {ckpt} does not fit the model: '), lines
        assert 'decode_head.conv_seg.weight (5, 32, 1, 1) vs (11, 32, 1, 1)' in lines[0]
    assert [p.name for p in out.iterdir()] == ['student.pth']
    assert (out / 'student.pth').read_bytes() == b'previous'
    assert not (tmp_path / 'new').exists()
