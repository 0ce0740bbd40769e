"""Atomic file writes: a reader never sees a half-written file.

The data goes to a temporary file in the destination folder, is flushed to
disk, and replaces the destination in one ``os.replace``. A process killed
midway leaves at most a stray ``.*.tmp-*`` file, never a truncated target.
"""
import os
import os.path as osp
import tempfile
from typing import Union

__all__ = ['atomic_write_bytes', 'make_mmengine_local_writes_atomic']


def atomic_write_bytes(path: Union[str, os.PathLike], data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (creates the folder)."""
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.tmp-')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


_PATCHED = False


def make_mmengine_local_writes_atomic() -> None:
    """Makes MMEngine's local file backend (which ``save_checkpoint`` and the
    ``CheckpointHook``'s ``last_checkpoint`` record go through) write
    atomically. Idempotent."""
    global _PATCHED
    if _PATCHED:
        return
    from mmengine.fileio.backends import LocalBackend

    def put(self, obj: bytes, filepath) -> None:
        atomic_write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write_bytes(filepath, obj.encode(encoding))

    LocalBackend.put = put
    LocalBackend.put_text = put_text
    _PATCHED = True
