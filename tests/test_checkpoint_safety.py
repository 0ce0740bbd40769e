"""Weights-only checkpoint loading: MMEngine checkpoints load, code does not run."""
import os
import pickle

import numpy as np
import pytest
import torch

import mmseg_temporal  # noqa: F401
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint


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


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned > /tmp/mmseg_temporal_pwned',))


def test_checkpoint_with_code_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': _Evil()}, path)
    if os.path.exists('/tmp/mmseg_temporal_pwned'):
        os.remove('/tmp/mmseg_temporal_pwned')
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(path, map_location='cpu')
    assert not os.path.exists('/tmp/mmseg_temporal_pwned')


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
