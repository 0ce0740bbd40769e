"""How exports name the files they came from: by file name and content
hash (sha256), never by absolute local path, which would leak the
exporter's folders and mean nothing on another machine."""
import hashlib
import os
import os.path as osp
from typing import Dict, Union

__all__ = ['file_sha256', 'file_source']


def file_sha256(path: Union[str, os.PathLike], chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def file_source(path: Union[str, os.PathLike]) -> Dict[str, str]:
    """``{'file': NAME, 'sha256': HEX}`` of a source file (its name without
    the folder)."""
    return dict(file=osp.basename(os.fspath(path)), sha256=file_sha256(path))
