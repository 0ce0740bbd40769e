"""Checkpoint reading: MMEngine checkpoints load weights-only, code does not
run, and every bad file gives one clear line (file, what is wrong, what to do)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint
from torch import nn

import mmseg_temporal  # noqa: F401
from mmseg_temporal.utils.checkpoint import (
    CheckpointError,
    load_state_dict_strict,
    load_student_weights,
    read_checkpoint,
    student_state_dict,
)
from mmseg_temporal.utils.runner import CheckedLoadRunner, exit_on_checkpoint_error

from conftest import data_cfg_options


def mmengine_like_checkpoint():
    buf = HistoryBuffer()
    buf.update(0.5)
    buf.update(np.float64(0.25))
    return dict(
        meta=dict(epoch=0, iter=3, seed=np.int64(7), np_metric=np.float32(1.5),
                  hook_msgs=dict(last_ckpt='x.pth'),
                  message_hub=dict(log_scalars={'train/loss': buf},
                                   runtime_info={'iter': 3}),
                  arr=np.arange(3)),
        state_dict={'w': torch.ones(2)},
        optimizer={'state': {}, 'param_groups': [{'lr': 0.01}]})


def bad_checkpoints(folder):
    """name -> (path, what the error says is wrong)."""
    good = folder / 'good.pth'
    torch.save({'state_dict': {'w': torch.ones(10000)}}, good)
    data = good.read_bytes()
    (folder / 'truncated.pth').write_bytes(data[:len(data) // 2])
    (folder / 'text.pth').write_text('not a checkpoint\n')
    (folder / 'empty.pth').write_bytes(b'')
    torch.save([torch.ones(1)], folder / 'list.pth')
    torch.save({'epoch': 3, 'note': 'no weights'}, folder / 'random_dict.pth')
    return {
        'missing': (folder / 'nope.pth', 'no such file'),
        'truncated': (folder / 'truncated.pth', 'truncated or not a torch'),
        'text': (folder / 'text.pth', 'truncated or not a torch'),
        'empty': (folder / 'empty.pth', 'truncated or not a torch'),
        'list': (folder / 'list.pth', 'holds a list, not a dict'),
        'random_dict': (folder / 'random_dict.pth', 'has no state dict'),
    }


def test_mmengine_checkpoint_loads_weights_only(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint(mmengine_like_checkpoint(), path)
    # torch's default (weights-only) refuses it outside MMEngine's loader ...
    with pytest.raises(Exception, match='(?i)weights.only|unsupported global'):
        torch.load(path)
    # ... and MMEngine's loader, after `import mmseg_temporal`, loads it.
    ckpt = _load_checkpoint(path, map_location='cpu')
    assert ckpt['meta']['iter'] == 3
    assert ckpt['meta']['message_hub']['log_scalars']['train/loss'].current() == 0.25
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert torch.equal(read_checkpoint(path)['state_dict']['w'], torch.ones(2))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'echo pwned > {self.marker}',))


def test_checkpoint_with_code_is_refused(tmp_path):
    """(tests/test_security.py has the other attacks.)"""
    path = str(tmp_path / 'evil.pth')
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {}, 'meta': _Evil(marker)}, path)
    for load in (read_checkpoint,
                 lambda p: _load_checkpoint(p, map_location='cpu')):
        with pytest.raises(CheckpointError,
                           match=r'evil\.pth: holds a Python object '
                                 r'\(posix\.system\)'):
            load(path)
    assert not marker.exists()


@pytest.mark.parametrize('case', ['missing', 'truncated', 'text', 'empty',
                                  'list', 'random_dict'])
def test_bad_checkpoint_one_clear_line(tmp_path, case):
    path, what = bad_checkpoints(tmp_path)[case]
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(str(path), role='teacher checkpoint',
                        hint='train one with configs/x.py')
    msg = str(err.value)
    assert '\n' not in msg
    assert msg.startswith(f'teacher checkpoint {path}: ')
    assert what in msg
    assert isinstance(err.value, ValueError)
    if case in ('missing', 'truncated', 'text'):
        assert msg.endswith('; train one with configs/x.py')


@pytest.mark.parametrize('case', ['missing', 'truncated', 'text', 'list'])
def test_mmengine_loader_gives_the_clear_line(tmp_path, case):
    """MMEngine's own loading (load_from, resume, Pretrained) goes through
    read_checkpoint: no raw torch traceback."""
    path, what = bad_checkpoints(tmp_path)[case]
    with pytest.raises(CheckpointError, match=what) as err:
        _load_checkpoint(str(path), map_location='cpu')
    assert str(path) in str(err.value)


def test_student_state_dict():
    w = torch.ones(1)
    distill = {'state_dict': {'student.backbone.w': w, 'losses.tl.x': w}}
    assert list(student_state_dict(distill)) == ['backbone.w']
    plain = {'state_dict': {'backbone.w': w, 'decode_head.b': w}}
    assert list(student_state_dict(plain)) == ['backbone.w', 'decode_head.b']
    ddp = {'module.backbone.w': w}  # a bare state dict saved from DDP
    assert list(student_state_dict(ddp)) == ['backbone.w']


class _Net(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.conv = nn.Conv2d(width, 4, 1)
        self.bn = nn.BatchNorm2d(4)


def test_load_state_dict_strict_loads_and_reports_keys():
    src, dst = _Net(), _Net()
    load_state_dict_strict(dst, src.state_dict(), 'ckpt a.pth')
    assert torch.equal(dst.conv.weight, src.conv.weight)

    state = dict(_Net(width=5).state_dict())
    del state['bn.weight']
    state['head.w'] = torch.ones(1)
    with pytest.raises(CheckpointError) as err:
        load_state_dict_strict(dst, state, 'teacher checkpoint t.pth')
    msg = str(err.value)
    assert msg.startswith('teacher checkpoint t.pth does not fit the model: ')
    assert "1 of 7 model keys missing (e.g. ['bn.weight'])" in msg
    assert "1 unexpected keys (e.g. ['head.w'])" in msg
    assert 'conv.weight (4, 5, 1, 1) vs (4, 3, 1, 1)' in msg
    assert torch.equal(dst.conv.weight, src.conv.weight)  # left untouched
    # extra keys may be allowed; missing ones never are
    extra = dict(src.state_dict(), **{'aux.w': torch.ones(1)})
    load_state_dict_strict(dst, extra, 'x', allow_unexpected=True)
    with pytest.raises(CheckpointError, match='missing'):
        load_state_dict_strict(dst, {'conv.weight': src.conv.weight}, 'x',
                               allow_unexpected=True)


def test_load_student_weights(tmp_path):
    student = _Net()
    path = tmp_path / 'distill.pth'
    torch.save({'state_dict': {f'student.{k}': v
                               for k, v in student.state_dict().items()},
                'meta': {'dataset_meta': {'classes': ['a']}}}, path)
    other = _Net()
    ckpt = load_student_weights(other, str(path), role='teacher checkpoint')
    assert ckpt['meta']['dataset_meta']['classes'] == ['a']
    assert torch.equal(other.conv.weight, student.conv.weight)
    foreign = tmp_path / 'foreign.pth'
    torch.save({'state_dict': {'fc.weight': torch.ones(2, 2)}}, foreign)
    with pytest.raises(CheckpointError,
                       match=rf'teacher checkpoint {foreign} does not fit the '
                             r'model: 7 of 7 model keys missing'):
        load_student_weights(other, str(foreign), role='teacher checkpoint')


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    """A save that dies midway leaves the previous checkpoint intact."""
    path = tmp_path / 'latest.pth'
    save_checkpoint({'state_dict': {'w': torch.zeros(1)}}, str(path))

    def boom(*a, **k):
        raise KeyboardInterrupt('killed while writing')

    monkeypatch.setattr(os, 'fsync', boom)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'state_dict': {'w': torch.ones(1)}}, str(path))
    monkeypatch.undo()
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.zeros(1))
    assert [p.name for p in tmp_path.iterdir()] == ['latest.pth']


class _ToyModel(BaseModel):
    def __init__(self, classes=4):
        super().__init__()
        self.backbone = nn.Conv2d(3, 8, 1)
        self.head = nn.Conv2d(8, classes, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.head(self.backbone(inputs))


def _toy_runner(tmp_path, **kwargs):
    return CheckedLoadRunner(model=_ToyModel(), work_dir=str(tmp_path / 'work'),
                             **kwargs)


def test_runner_load_checkpoint_refuses_what_does_not_fit(tmp_path):
    """The Runner behind tools/test.py and tools/train.py (load_from, resume)."""
    runner = _toy_runner(tmp_path)
    model = runner.model
    saved = _ToyModel()
    good = tmp_path / 'good.pth'
    save_checkpoint({'state_dict': saved.state_dict(), 'meta': {}}, str(good))
    runner.load_checkpoint(str(good))
    assert torch.equal(model.head.weight, saved.head.weight)

    foreign = tmp_path / 'foreign.pth'
    torch.save({'state_dict': {'fc.weight': torch.ones(2)}}, foreign)
    with pytest.raises(CheckpointError, match=rf'^checkpoint {foreign} does not '
                       r'fit the model: 4 of 4 model keys missing'):
        runner.load_checkpoint(str(foreign))  # even when fine-tuning
    for case in ('truncated', 'text', 'random_dict', 'missing'):
        path, what = bad_checkpoints(tmp_path)[case]
        with pytest.raises(CheckpointError, match=what):
            runner.load_checkpoint(str(path))

    # a checkpoint of the same backbone with another head: fine-tuning from
    # it (load_from) is MMEngine's partial load; testing or resuming refuses
    other_head = tmp_path / 'other_head.pth'
    save_checkpoint({'state_dict': _ToyModel(classes=7).state_dict()},
                    str(other_head))
    runner.load_checkpoint(str(other_head))
    runner.checkpoint_must_fit = True
    with pytest.raises(CheckpointError, match=r'2 shape mismatches .*head\.weight '
                       r'\(7, 8, 1, 1\) vs \(4, 8, 1, 1\)'):
        runner.load_checkpoint(str(other_head))
    resuming = _toy_runner(tmp_path, resume=True)
    with pytest.raises(CheckpointError, match='shape mismatches'):
        resuming.load_checkpoint(str(other_head))


def test_tools_exit_with_the_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        with exit_on_checkpoint_error():
            raise CheckpointError('checkpoint a.pth: no such file; check the path')
    assert exit_.value.code == 'error: checkpoint a.pth: no such file; check the path'


ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / 'configs' / 'synthetic' / 'pspnet_tiny_baseline_synthetic.py'


def _bad_checkpoint(folder: Path, case: str) -> Path:
    if case == 'foreign':  # weights of another model
        path = folder / 'other_model.pth'
        torch.save({'state_dict': {'fc.weight': torch.ones(2, 2)}}, path)
        return path
    return bad_checkpoints(folder)[case][0]


@pytest.mark.slow
@pytest.mark.parametrize('tool,case', [
    ('test', 'truncated'), ('test', 'foreign'), ('test', 'text'),
    ('resume', 'truncated'), ('resume', 'foreign')])
def test_tools_end_with_one_line_on_a_bad_checkpoint(
        tool, case, default_synthetic_root, tmp_path):
    """tools/test.py (the Runner's load_from) and tools/train.py --resume:
    exit status 1, the last stderr line names the file and what is wrong,
    no traceback."""
    ckpt = _bad_checkpoint(tmp_path, case)
    work = tmp_path / 'work'
    data = data_cfg_options(default_synthetic_root)
    if tool == 'test':
        cmd = ['tools/test.py', str(BASELINE), str(ckpt), '--work-dir',
               str(work), '--cfg-options', *data]
    else:  # --resume picks the checkpoint that last_checkpoint names
        work.mkdir()
        (work / 'last_checkpoint').write_text(str(ckpt))
        cmd = ['tools/train.py', str(BASELINE), '--work-dir', str(work),
               '--resume', '--cfg-options', 'train_cfg.max_iters=2', *data]
    out = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True,
                         text=True, timeout=600,
                         env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert out.returncode == 1, (out.stdout + out.stderr)[-3000:]
    assert 'Traceback' not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    expected = {'truncated': 'is truncated or not a torch checkpoint',
                'text': 'is truncated or not a torch checkpoint',
                'foreign': 'does not fit the model: '}[case]
    assert last.startswith(f'error: checkpoint {ckpt}'), last
    assert expected in last, last
    if case == 'foreign':
        assert "model keys missing (e.g. ['" in last
        assert "1 unexpected keys (e.g. ['fc.weight'])" in last
