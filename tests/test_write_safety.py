"""Write, check, then replace (issue 20, item 3): a failed run never destroys
the previous good output.

* ONNX export: a failed parity check leaves the previous ``.onnx`` byte for
  byte and keeps the failed one as ``NAME.failed.onnx``; the metadata names
  its sources by file name and sha256, not by local path.
* Video demo: a run that fails midway leaves the previous output folder
  intact (its partial output goes to ``OUT.failed``); a folder holding other
  files is refused before anything runs.
* Checkpoint rotation (``FiniteCheckpointHook``, ``max_keep_ckpts=1``): a
  diverged checkpoint (finite but exploded, or NaN) never pushes out the
  last good one; the stock ``CheckpointHook`` does (the fault, shown).
* Stale ``.NAME.tmp-*`` files of the atomic writer are removed at the next
  start of a run, and nothing else is.
"""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmseg.registry import MODELS
from torch import nn

import mmseg_temporal  # noqa: F401
from mmseg_temporal.engine.hooks import FiniteCheckpointHook
from mmseg_temporal.models.losses.base import assert_finite
from mmseg_temporal.utils.atomic import (
    atomic_output_file,
    atomic_output_folder,
    failed_sibling,
    remove_stale_tmp,
)
from mmseg_temporal.utils.checkpoint import read_checkpoint
from mmseg_temporal.utils.runner import CheckedLoadRunner

ROOT = Path(__file__).resolve().parents[1]
SYN_CFG = ROOT / 'configs' / 'synthetic' / 'pspnet_tiny_baseline_synthetic.py'


def snapshot(folder: Path) -> dict:
    """name -> sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def tmp_leftovers(folder: Path) -> list:
    return [p.name for p in folder.iterdir() if '.tmp-' in p.name]


# --------------------------------------------------------------- atomic.py
def test_atomic_output_file_keeps_the_old_file_on_error(tmp_path):
    out = tmp_path / 'model.onnx'
    out.write_bytes(b'good')
    failed = failed_sibling(out)
    with pytest.raises(ValueError, match='check failed') as info:
        with atomic_output_file(out, failed=failed) as tmp:
            Path(tmp).write_bytes(b'bad')
            raise ValueError('check failed')
    assert out.read_bytes() == b'good'
    assert Path(failed).name == 'model.failed.onnx'
    assert Path(failed).read_bytes() == b'bad'
    assert any(failed in n for n in info.value.__notes__)
    with atomic_output_file(out) as tmp:
        Path(tmp).write_bytes(b'new')
    assert out.read_bytes() == b'new' and tmp_leftovers(tmp_path) == []


def test_atomic_output_folder_replaces_whole_or_nothing(tmp_path):
    out = tmp_path / 'demo'
    out.mkdir()
    (out / 'a.txt').write_text('old a')
    (out / 'stale.png').write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_output_folder(out, failed=failed_sibling(out, True)) as tmp:
            Path(tmp, 'a.txt').write_text('partial')
            raise RuntimeError('midway')
    assert snapshot(out) == {'a.txt': hashlib.sha256(b'old a').hexdigest(),
                             'stale.png': hashlib.sha256(b'old').hexdigest()}
    assert (tmp_path / 'demo.failed' / 'a.txt').read_text() == 'partial'
    with atomic_output_folder(out) as tmp:
        Path(tmp, 'a.txt').write_text('new a')
    assert sorted(p.name for p in out.iterdir()) == ['a.txt']  # whole folder
    assert (out / 'a.txt').read_text() == 'new a'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []


def test_remove_stale_tmp_removes_only_the_writers_leftovers(tmp_path):
    stale = ['.iter_4.pth.tmp-a1b2c3d4', '.last_checkpoint.tmp-zz_9zz9z']
    keep = ['iter_4.pth', '.iter_4.pth.tmp-short', 'notes.tmp-a1b2c3d4',
            '.hidden', 'x.tmp-a1b2c3d4.bak']
    for name in stale + keep:
        (tmp_path / name).write_bytes(b'x' * 10)
    (tmp_path / '.demo.tmp-abcdefgh').mkdir()
    removed = remove_stale_tmp(tmp_path)
    assert sorted(Path(p).name for p in removed) == sorted(
        stale + ['.demo.tmp-abcdefgh'])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)
    assert remove_stale_tmp(tmp_path / 'missing') == []


# ------------------------------------------------------------------ ONNX
def _random_checkpoint(tmp: Path, seed: int) -> Path:
    from mmseg_temporal.models.segmentors.student_config import student_model_config
    torch.manual_seed(seed)
    model = MODELS.build(student_model_config(Config.fromfile(str(SYN_CFG))))
    model.init_weights()
    ckpt = tmp / f'random_{seed}.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    return ckpt


def test_failed_onnx_parity_keeps_the_previous_file_byte_identical(tmp_path):
    pytest.importorskip('onnxruntime')
    from mmseg_temporal.deploy.onnx_export import OnnxParityError, export_onnx
    from mmseg_temporal.inference.model_files import read_onnx_metadata
    out = tmp_path / 'student.onnx'
    export_onnx(str(SYN_CFG), str(_random_checkpoint(tmp_path, 0)), str(out),
                input_shape=(64, 96))
    good = out.read_bytes()
    meta = read_onnx_metadata(str(out))
    ckpt = tmp_path / 'random_0.pth'
    assert meta['source_checkpoint'] == dict(
        file='random_0.pth', sha256=hashlib.sha256(ckpt.read_bytes()).hexdigest())
    assert meta['source_config']['file'] == SYN_CFG.name
    assert str(tmp_path) not in json.dumps(meta)  # no local path
    assert str(ROOT) not in json.dumps(meta)

    with pytest.raises(OnnxParityError) as info:  # other weights, no tolerance
        export_onnx(str(SYN_CFG), str(_random_checkpoint(tmp_path, 1)),
                    str(out), input_shape=(64, 96), atol=-1.)
    msg = str(info.value)
    failed = tmp_path / 'student.failed.onnx'
    assert out.read_bytes() == good
    assert failed.stat().st_size > 0 and failed.read_bytes() != good
    assert str(failed) in msg and 'left as it was' in msg
    assert 'max abs logit diff' in msg and '\n' not in msg
    assert tmp_leftovers(tmp_path) == []


@pytest.mark.slow
def test_cli_failed_parity_exits_1_and_names_the_kept_file(tmp_path):
    pytest.importorskip('onnxruntime')
    ckpt = _random_checkpoint(tmp_path, 0)
    out = tmp_path / 'm.onnx'
    out.write_bytes(b'previous good export')
    res = subprocess.run(
        [sys.executable, 'tools/export_onnx.py', str(SYN_CFG), str(ckpt),
         str(out), '--shape', '64', '96', '--atol', '-1'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 1, res.stderr[-2000:]
    assert out.read_bytes() == b'previous good export'
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith('error:')]
    assert len(lines) == 1 and str(tmp_path / 'm.failed.onnx') in lines[0]
    assert 'Traceback' not in res.stderr


# ------------------------------------------------------------ video demo
@pytest.fixture(scope='module')
def exported_model(tmp_path_factory):
    from mmseg_temporal.deploy.export import export_student
    tmp = tmp_path_factory.mktemp('write_safety_model')
    return export_student(str(SYN_CFG), str(_random_checkpoint(tmp, 0)),
                          str(tmp / 'export'))


def _frames(folder: Path, n: int = 5) -> Path:
    import cv2
    folder.mkdir()
    for t in range(n):
        img = np.full((96, 128, 3), 90, np.uint8)
        cv2.rectangle(img, (10 + 6 * t, 20), (50 + 6 * t, 60), (0, 200, 255), -1)
        cv2.imwrite(str(folder / f'{t:03d}.png'), img)
    return folder


def _demo(frames, model, out, **kw):
    from mmseg_temporal.demo.video_demo import run_video_demo
    return run_video_demo(str(frames), [tuple(model)], str(out),
                          progress=False, warmup=0, min_height=96,
                          flow=dict(type='DISFlow', preset='ultrafast'), **kw)


def test_demo_failing_midway_leaves_the_previous_folder_intact(
        exported_model, tmp_path, monkeypatch, capsys):
    import mmseg_temporal.demo.video_demo as demo
    frames, out = _frames(tmp_path / 'frames'), tmp_path / 'out'
    _demo(frames, exported_model, out)
    before = snapshot(out)
    assert sorted(before) == ['latency.json', 'overlay.mp4', 'tc_curve.png']

    class FailingSource(demo.FrameSource):  # the camera drops after 2 frames
        def __iter__(self):
            for i, frame in enumerate(super().__iter__()):
                if i == 2:
                    raise RuntimeError('camera unplugged')
                yield frame

    monkeypatch.setattr(demo, 'FrameSource', FailingSource)
    with pytest.raises(RuntimeError, match='camera unplugged'):
        _demo(frames, exported_model, out)
    assert snapshot(out) == before
    failed = tmp_path / 'out.failed'
    assert (failed / 'overlay.mp4').exists()  # the partial output, kept
    err = capsys.readouterr().err
    assert f'partial output is in {failed}' in err
    assert [p.name for p in tmp_path.iterdir() if '.tmp-' in p.name] == []

    monkeypatch.undo()  # a complete run replaces the whole folder
    summary = _demo(frames, exported_model, out, tc=False)
    assert sorted(snapshot(out)) == ['latency.json', 'overlay.mp4']
    assert summary['outputs']['video'] == str(out / 'overlay.mp4')
    assert json.loads((out / 'latency.json').read_text())['num_frames'] == 5


def test_demo_refuses_a_folder_with_other_files(exported_model, tmp_path):
    frames, out = _frames(tmp_path / 'frames', 2), tmp_path / 'out'
    out.mkdir()
    (out / 'thesis.tex').write_text('precious')
    with pytest.raises(FileExistsError, match='thesis.tex'):
        _demo(frames, exported_model, out)
    assert (out / 'thesis.tex').read_text() == 'precious'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['frames', 'out']


# ------------------------------------------------------ checkpoint rotation
class ToyModel(BaseModel):
    """One weight vector; the loss checks itself like the project's
    segmentors (``assert_finite``) unless ``check`` is off (stock MMSeg)."""

    def __init__(self, check: bool = True) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))
        self.check = check

    def forward(self, inputs, data_samples=None, mode='tensor'):
        loss = (self.w * inputs).pow(2).mean()
        if mode != 'loss':
            return loss
        if self.check:
            assert_finite(dict(loss=loss))
        return dict(loss=loss)


class DivergeHook(Hook):
    """Multiplies the weights by ``factor`` after iteration ``at`` (before
    the checkpoint of that iteration is saved): a diverged update."""

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW)

    def __init__(self, at: int, factor: float) -> None:
        self.at, self.factor = at, factor

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.at:
            runner.model.w.data.mul_(self.factor)


class Ones(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        return dict(inputs=torch.ones(4))


def _train(work: Path, hook_type: str, diverge_at=None, factor=1e30,
           check=True, max_iters=12, runner_type=CheckedLoadRunner):
    runner = runner_type(
        model=ToyModel(check), work_dir=str(work), default_scope='mmseg',
        experiment_name=f'toy_{work.parent.name}',
        train_dataloader=dict(
            dataset=Ones(), batch_size=1, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-3)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(
            type=hook_type, by_epoch=False, interval=2, max_keep_ckpts=1)),
        custom_hooks=[DivergeHook(diverge_at, factor)] if diverge_at else [])
    runner.train()
    return runner


def _ckpts(work: Path) -> list:
    return sorted((p.name for p in work.glob('iter_*.pth')),
                  key=lambda n: int(n[5:-4]))


@pytest.mark.parametrize('factor', [1e30, float('nan')],
                         ids=['finite_exploded', 'nan'])
def test_diverged_checkpoint_never_pushes_out_the_last_good_one(tmp_path, factor):
    work = tmp_path / 'work'
    with pytest.raises(FloatingPointError) as info:
        _train(work, 'FiniteCheckpointHook', diverge_at=6, factor=factor)
    assert _ckpts(work) == ['iter_4.pth', 'iter_6.pth']
    good = read_checkpoint(str(work / 'iter_4.pth'))
    assert torch.isfinite(good['state_dict']['w']).all()
    assert good['state_dict']['w'].abs().max() < 2
    assert any(str(work / 'iter_4.pth') in n for n in info.value.__notes__)


def test_stock_checkpoint_hook_loses_the_good_checkpoint(tmp_path):
    """The fault itself: with MMEngine's hook only the diverged one is
    left (so the test above would fail without FiniteCheckpointHook)."""
    work = tmp_path / 'work'
    with pytest.raises(FloatingPointError):
        _train(work, 'CheckpointHook', diverge_at=6)
    assert _ckpts(work) == ['iter_6.pth']


def test_nan_run_that_goes_on_keeps_the_last_finite_checkpoint(tmp_path):
    """Stock MMSeg models do not stop on a NaN loss: the rotation goes on
    through NaN checkpoints but keeps the last finite one."""
    work = tmp_path / 'work'
    _train(work, 'FiniteCheckpointHook', diverge_at=6, factor=float('nan'),
           check=False)
    assert _ckpts(work) == ['iter_4.pth', 'iter_12.pth']


def test_a_healthy_run_keeps_max_keep_ckpts(tmp_path):
    work = tmp_path / 'work'
    runner = _train(work, 'FiniteCheckpointHook')
    assert _ckpts(work) == ['iter_12.pth']
    hook = [h for h in runner.hooks if isinstance(h, FiniteCheckpointHook)][0]
    assert hook.last_good_checkpoint == str(work / 'iter_12.pth')


def test_stale_tmp_files_are_removed_at_the_next_start(tmp_path):
    """The hook sweeps them (it alone: MMEngine's stock Runner here)."""
    from mmengine.runner import Runner
    work = tmp_path / 'work'
    work.mkdir()
    stale = work / '.iter_6.pth.tmp-k1ll3d_0'  # a kill while saving
    stale.write_bytes(b'\0' * 4096)
    others = [work / 'iter_2.pth.bak', work / '.notes.tmp']
    for p in others:
        p.write_text('mine')
    _train(work, 'FiniteCheckpointHook', max_iters=2, runner_type=Runner)
    assert not stale.exists()
    assert all(p.read_text() == 'mine' for p in others)
    assert tmp_leftovers(work) == []


def test_project_configs_use_the_finite_checkpoint_hook():
    configs = [p for p in (ROOT / 'configs').rglob('*.py')
               if '_base_' not in p.parts]
    assert configs
    for path in configs:
        cfg = Config.fromfile(str(path))
        hook = cfg.get('default_hooks', {}).get('checkpoint') or {}
        assert hook.get('type') == 'FiniteCheckpointHook', path
