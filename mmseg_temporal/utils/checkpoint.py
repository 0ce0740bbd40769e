"""Weights-only loading of MMEngine checkpoints on torch >= 2.6.

torch >= 2.6 unpickles checkpoints with ``weights_only=True`` by default, and
a checkpoint that MMEngine 0.10.7's Runner saves holds, besides tensors, a
few plain Python/NumPy objects (NumPy arrays and scalars in ``meta``, the
message hub's ``HistoryBuffer``). Loading, resuming and testing then fail.

The fix here keeps weights-only loading on and allows exactly those types,
and only while MMEngine loads a local checkpoint: MMEngine's local-file
scheme of ``CheckpointLoader`` is replaced by one that calls ``torch.load``
inside ``torch.serialization.safe_globals(ALLOWED)``. Nothing else changes:
a bare ``torch.load`` elsewhere keeps torch's default allow-list, and a
checkpoint that needs any other global (a pickled function, an arbitrary
class) is still refused, so a checkpoint from the internet cannot run code.
"""
import os.path as osp
from typing import Callable, List, Optional

import numpy as np
import torch

__all__ = ['checkpoint_safe_globals', 'register_checkpoint_safe_globals',
           'load_local_checkpoint']


def checkpoint_safe_globals() -> List:
    """The types an MMEngine 0.10.7 checkpoint holds besides tensors."""
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtypes = [type(np.dtype(t)) for t in (
        np.float64, np.float32, np.float16, np.int64, np.int32, np.int16,
        np.int8, np.uint8, np.bool_)]
    # HistoryBuffer pickles its registered statistics functions, referenced
    # as getattr(HistoryBuffer, 'mean') etc.: getattr is needed to rebuild
    # them. Under the weights-only unpickler an attribute fetched that way
    # can be stored but never called (only allow-listed callables are), so
    # this does not open a way to run code.
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtypes, HistoryBuffer,
            getattr]


def load_local_checkpoint(filename: str,
                          map_location: Optional[Callable] = None):
    """``torch.load`` of a local MMEngine checkpoint, weights-only, with the
    allow-list of :func:`checkpoint_safe_globals` active for this call only."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if hasattr(torch.serialization, 'safe_globals'):
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    return torch.load(filename, map_location=map_location)  # torch < 2.4


_REGISTERED = False


def register_checkpoint_safe_globals() -> None:
    """Makes MMEngine's local checkpoint loading use
    :func:`load_local_checkpoint` (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint,
                                     force=True)
    _REGISTERED = True
