"""What a weights-only checkpoint read may rebuild, and what it refuses
(:func:`~mmseg_temporal.utils.checkpoint.read_checkpoint` uses it).

MMEngine 0.10.7 checkpoints hold, besides tensors, NumPy arrays, scalars and
dtypes and the message hub's ``HistoryBuffer``, whose pickled state names
its statistics methods: pickle protocol 2 (``torch.save``'s) writes
``HistoryBuffer.mean`` as the call ``getattr(HistoryBuffer, 'mean')``.
Allowing ``builtins.getattr`` itself would let a checkpoint reach anything
(``getattr(getattr, '__self__')`` is the builtins module, and
``exec`` is one more ``getattr`` away), so the name resolves to
:func:`history_buffer_statistic` instead: no generic callable is allowed.

After loading, :func:`planted_attribute` finds what a pickle can still set
without calling anything: an attribute with a dunder name on a container
(torch's unpickler applies pickle's BUILD to an ``OrderedDict``; a
``__reduce_ex__`` planted there runs when MMEngine deep-copies the message
hub on resume). :func:`only_safe_globals` also keeps a checkpoint from
changing HistoryBuffer's process-wide statistics table.
"""
import pickle
import re
from contextlib import contextmanager
from typing import Iterator, List, Optional

import numpy as np
import torch

__all__ = ['history_buffer_statistic', 'checkpoint_safe_globals',
           'only_safe_globals', 'refusal', 'planted_attribute']

_STATISTICS = ('min', 'max', 'current', 'mean')  # HistoryBuffer's own
_REFUSED = 'mmseg_temporal refuses '
# What torch's weights-only unpickler and this module say when they refuse
# an object; group 1 names it.
_REFUSALS = (_REFUSED + r'(.+)$', r'GLOBAL (\S+)',
             r'reduce for unrecognized function (.+?)(?: which|$)',
             r'Can only build .*but got (.+)$')


def _short(obj) -> str:
    """A short name of ``obj`` for an error line."""
    if obj is history_buffer_statistic:
        return 'getattr'  # what the checkpoint named
    text = repr(obj) if isinstance(obj, str) else getattr(
        obj, '__qualname__', type(obj).__name__)
    return text if len(text) <= 40 else text[:37] + '...'


def history_buffer_statistic(owner, name, *rest):
    """What ``builtins.getattr`` in a checkpoint resolves to when
    :func:`read_checkpoint` reads it: ``HistoryBuffer.<name>`` for ``name``
    one of ``min``, ``max``, ``current``, ``mean`` (what MMEngine's
    ``HistoryBuffer.__getstate__`` pickles); anything else raises
    ``pickle.UnpicklingError``, so no other attribute of anything is
    reachable from a checkpoint."""
    from mmengine.logging.history_buffer import HistoryBuffer
    if owner is HistoryBuffer and not rest and type(name) is str \
            and name in _STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'{_REFUSED}getattr({_short(owner)}, '
        f'{", ".join(_short(a) for a in (name, *rest))})')


def checkpoint_safe_globals() -> List:
    """The globals an MMEngine 0.10.7 checkpoint holds besides tensors: NumPy
    arrays, scalars and dtypes, ``HistoryBuffer``, and ``builtins.getattr``
    as :func:`history_buffer_statistic` (no generic callable)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtypes = [type(np.dtype(t)) for t in (
        np.float64, np.float32, np.float16, np.int64, np.int32, np.int16,
        np.int8, np.uint8, np.bool_)]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtypes, HistoryBuffer,
            (history_buffer_statistic, 'builtins.getattr')]


@contextmanager
def only_safe_globals() -> Iterator[None]:
    """:func:`checkpoint_safe_globals` and torch's own registrations
    (``torch.*`` types) allowed, nothing else the process added with
    ``torch.serialization.add_safe_globals`` (e.g. ``getattr``; restored
    after), and HistoryBuffer's statistics table kept as it was."""
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer()  # registers the default statistics in the class table
    table = dict(HistoryBuffer._statistics_methods)
    serialization = torch.serialization
    before = serialization.get_safe_globals()
    torch_own = [g for g in before if not isinstance(g, tuple) and
                 getattr(g, '__module__', '').startswith('torch.')]
    serialization.clear_safe_globals()
    serialization.add_safe_globals(torch_own + checkpoint_safe_globals())
    try:
        yield
    finally:
        serialization.clear_safe_globals()
        serialization.add_safe_globals(before)
        changed = HistoryBuffer._statistics_methods != table
        HistoryBuffer._statistics_methods.clear()
        HistoryBuffer._statistics_methods.update(table)
        if changed:
            raise pickle.UnpicklingError(
                f'{_REFUSED}a changed HistoryBuffer statistics table')


def refusal(message: str) -> Optional[str]:
    """The object a weights-only refusal names, else ``None``."""
    for pattern in _REFUSALS:
        found = re.search(pattern, message, re.MULTILINE)
        if found:
            return found.group(1).strip()
    return None


def planted_attribute(obj) -> Optional[str]:
    """The first attribute with a dunder name set on an object of a loaded
    checkpoint (pickle's BUILD), e.g. an ``OrderedDict`` whose
    ``__reduce_ex__`` would run when it is deep-copied; else ``None``."""
    seen, todo = set(), [obj]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (torch.Tensor, str, bytes)):
            continue
        seen.add(id(obj))
        attrs = getattr(obj, '__dict__', None) \
            if not isinstance(obj, type) else None
        if isinstance(attrs, dict):
            for key in attrs:
                if str(key).startswith('__') and str(key).endswith('__'):
                    return f'{type(obj).__name__}.{str(key)[:40]}'
            todo.extend(attrs.values())
        if isinstance(obj, dict):
            todo.extend(obj.keys())
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
        elif isinstance(obj, np.ndarray) and obj.dtype == object:
            todo.extend(obj.ravel().tolist())
    return None
