"""Atomic writes keep the mode a plain write gives, and make the rename
durable (mmseg_temporal.utils.atomic, used by MMEngine's local backend)."""
import os
import stat

import pytest
import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.runner.checkpoint import save_checkpoint

import mmseg_temporal  # noqa: F401  (routes LocalBackend writes through atomic)
from mmseg_temporal.utils.atomic import atomic_write_bytes, atomic_write_text, current_umask


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Sets the process umask for one test, then restores it."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize('mask', [0o022, 0o027, 0o077, 0o002])
def test_new_file_gets_the_mode_of_a_plain_open(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    plain = tmp_path / 'plain.bin'
    with open(plain, 'wb') as f:
        f.write(b'x')
    atomic = tmp_path / 'atomic.bin'
    atomic_write_bytes(atomic, b'x')
    assert mode(atomic) == mode(plain) == 0o666 & ~mask
    # MMEngine's checkpoint saving (through LocalBackend.put) too
    save_checkpoint({'state_dict': {'w': torch.ones(1)}}, str(tmp_path / 'c.pth'))
    assert mode(tmp_path / 'c.pth') == 0o666 & ~mask
    LocalBackend().put_text('iter_1.pth', tmp_path / 'last_checkpoint')
    assert mode(tmp_path / 'last_checkpoint') == 0o666 & ~mask
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_1.pth'


def test_replacing_keeps_the_existing_mode(tmp_path, umask):
    umask(0o022)
    path = tmp_path / 'shared.pth'
    path.write_bytes(b'old')
    os.chmod(path, 0o640)
    atomic_write_bytes(path, b'new')
    assert path.read_bytes() == b'new'
    assert mode(path) == 0o640
    os.chmod(path, 0o604)
    atomic_write_text(path, 'text é')
    assert path.read_text(encoding='utf-8') == 'text é'
    assert mode(path) == 0o604
    assert [p.name for p in tmp_path.iterdir()] == ['shared.pth']


def test_the_folder_is_fsynced_after_the_replace(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        kind = 'dir' if stat.S_ISDIR(os.fstat(fd).st_mode) else 'file'
        events.append(f'fsync {kind}')
        real_fsync(fd)

    def replace(src, dst):
        events.append('replace')
        real_replace(src, dst)

    monkeypatch.setattr(os, 'fsync', fsync)
    monkeypatch.setattr(os, 'replace', replace)
    atomic_write_bytes(tmp_path / 'sub' / 'a.bin', b'data')
    assert events == ['fsync file', 'replace', 'fsync dir']
    assert (tmp_path / 'sub' / 'a.bin').read_bytes() == b'data'
