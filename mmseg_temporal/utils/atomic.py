"""Atomic writes: a reader never sees a half-written file or folder, and a
failed run never destroys the previous good output.

The data goes to a temporary file in the destination folder, is flushed to
disk, and replaces the destination in one ``os.replace``; the folder is then
fsynced so that the rename itself survives a crash. A process killed midway
leaves at most a stray ``.*.tmp-*`` file, never a truncated target.

The file gets the mode a plain ``open(path, 'wb')`` would give it: that of
the file it replaces, or ``0o666`` less the process umask for a new file
(``tempfile.mkstemp`` alone would leave every file private, ``0o600``).

For outputs written by other code (an exporter, a video encoder) and
checked before they count, :func:`atomic_output_file` and
:func:`atomic_output_folder` hand out the temporary sibling and move it into
place only when the block ends without an error ("write, check, then
replace"); otherwise the target is left as it was and the unfinished output
is moved to a ``failed`` sibling for inspection. :func:`remove_stale_tmp`
removes the ``.NAME.tmp-XXXXXXXX`` leftovers of killed writers (and nothing
else) at the next start.
"""
import contextlib
import os
import os.path as osp
import re
import shutil
import stat
import tempfile
from typing import Iterator, List, Optional, Union

__all__ = ['atomic_write_bytes', 'atomic_write_text', 'current_umask',
           'atomic_output_file', 'atomic_output_folder', 'failed_sibling',
           'remove_stale_tmp']

TMP_INFIX = '.tmp-'
# mkstemp/mkdtemp: prefix + 8 characters of [a-z0-9_]
_STALE_TMP = re.compile(r'^\..+\.tmp-[a-z0-9_]{8}$')


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


def _mode_for(path: str, folder: bool = False) -> int:
    """The mode ``open(path, 'wb')`` (``os.makedirs`` for a folder) would
    leave ``path`` with."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return (0o777 if folder else 0o666) & ~current_umask()


def _tmp_prefix(path: str) -> str:
    """The name prefix of ``path``'s temporary siblings."""
    return f'.{osp.basename(path)}{TMP_INFIX}'


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
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=_tmp_prefix(path))
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


def failed_sibling(path: Union[str, os.PathLike], folder: bool = False) -> str:
    """Where a failed output of ``path`` is kept: ``out.failed.onnx`` for
    the file ``out.onnx``, ``out_dir.failed`` for a folder."""
    path = osp.normpath(os.fspath(path))
    if folder:
        return path + '.failed'
    root, ext = osp.splitext(path)
    return f'{root}.failed{ext}'


def _remove(path: str) -> None:
    if osp.isdir(path) and not osp.islink(path):
        shutil.rmtree(path)
    elif osp.lexists(path):
        os.remove(path)


def _keep_failed(tmp: str, failed: Optional[str], error: BaseException) -> None:
    """Moves the unfinished ``tmp`` to ``failed`` (replacing an earlier
    failed output; an empty ``tmp`` is just removed) and notes it on
    ``error``; without ``failed``, removes ``tmp``."""
    empty = not osp.exists(tmp) or (
        os.listdir(tmp) == [] if osp.isdir(tmp) else osp.getsize(tmp) == 0)
    if failed is None or empty:
        with contextlib.suppress(OSError):
            _remove(tmp)
        return
    try:
        _remove(failed)
        os.replace(tmp, failed)
    except OSError:
        return  # keeps tmp where it is; the first error wins
    if hasattr(error, 'add_note'):
        error.add_note(f'the unfinished output is kept in {failed}')


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output_file(path: Union[str, os.PathLike],
                       failed: Optional[str] = None) -> Iterator[str]:
    """Yields a temporary sibling of ``path`` (``.NAME.tmp-XXXXXXXX``, empty)
    for the caller to write and check. When the block ends without an
    exception it replaces ``path`` in one ``os.replace``; otherwise ``path``
    is left untouched and the unfinished file is moved to ``failed`` (see
    :func:`failed_sibling`; ``None``: deleted) before the exception goes
    on, with a note naming it."""
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=_tmp_prefix(path))
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        _keep_failed(tmp, failed, e)
        raise
    _fsync_folder(folder)


def _swap_folder(tmp: str, path: str) -> None:
    """Puts the folder ``tmp`` at ``path``, removing the folder there."""
    if not osp.lexists(path):
        os.replace(tmp, path)
        return
    # POSIX renames a folder only onto an empty one: move the old aside,
    # the new in, then delete the old (a crash in between leaves the old
    # one as .NAME.old-XXXXXXXX beside the new one, never neither).
    old = tempfile.mkdtemp(dir=osp.dirname(path),
                           prefix=f'.{osp.basename(path)}.old-')
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_output_folder(path: Union[str, os.PathLike],
                         failed: Optional[str] = None) -> Iterator[str]:
    """:func:`atomic_output_file` for a whole folder: yields an empty
    temporary sibling folder; when the block ends without an exception it
    replaces the folder ``path`` (whatever that held is removed); otherwise
    ``path`` is left untouched and the unfinished folder is moved to
    ``failed`` (``None``: deleted)."""
    path = osp.normpath(osp.abspath(os.fspath(path)))
    if osp.exists(path) and not osp.isdir(path):
        raise NotADirectoryError(f'{path} is a file, not a folder')
    parent = osp.dirname(path)
    os.makedirs(parent, exist_ok=True)
    mode = _mode_for(path, folder=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=_tmp_prefix(path))
    try:
        os.chmod(tmp, mode)
        yield tmp
        _swap_folder(tmp, path)
    except BaseException as e:
        _keep_failed(tmp, failed, e)
        raise
    _fsync_folder(parent)


def remove_stale_tmp(folder: Union[str, os.PathLike]) -> List[str]:
    """Removes the temporary siblings this module leaves in ``folder`` (top
    level only) when a process is killed while writing (``.NAME.tmp-`` and
    8 characters, e.g. ``.iter_8.pth.tmp-a1b2c3d4``); nothing else is
    touched. Returns the removed paths; a missing folder has none."""
    folder = os.fspath(folder)
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for name in names:
        if _STALE_TMP.match(name):
            path = osp.join(folder, name)
            with contextlib.suppress(FileNotFoundError):
                _remove(path)
                removed.append(path)
    return removed
