"""Atomic file writes: a reader never sees a half-written file.

The data goes to a temporary file in the destination folder, is flushed to
disk, and replaces the destination in one ``os.replace``; the folder is then
fsynced so that the rename itself survives a crash. A process killed midway
leaves at most a stray ``.*.tmp-*`` file, never a truncated target.

The file gets the mode a plain ``open(path, 'wb')`` would give it: that of
the file it replaces, or ``0o666`` less the process umask for a new file
(``tempfile.mkstemp`` alone would leave every file private, ``0o600``).
"""
import os
import os.path as osp
import stat
import tempfile
from typing import Union

__all__ = ['atomic_write_bytes', 'atomic_write_text', 'current_umask']


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it
    (``/proc/self/status``); elsewhere set and restored at once."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: str) -> int:
    """The mode ``open(path, 'wb')`` would leave ``path`` with."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def _fsync_folder(folder: str) -> None:
    """Makes a rename in ``folder`` durable (no-op where folders cannot be
    opened or fsynced, e.g. on Windows or some network file systems)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Union[str, os.PathLike], data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (creates the folder)."""
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.tmp-')
    try:
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def atomic_write_text(path: Union[str, os.PathLike], text: str,
                      encoding: str = 'utf-8') -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded."""
    atomic_write_bytes(path, text.encode(encoding))
