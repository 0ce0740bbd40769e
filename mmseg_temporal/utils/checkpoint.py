"""Reading checkpoints: weights-only, with one clear line when it fails.

torch >= 2.6 unpickles checkpoints with ``weights_only=True`` by default, and
a checkpoint that MMEngine 0.10.7's Runner saves holds, besides tensors, a
few plain Python/NumPy objects (NumPy arrays and scalars in ``meta``, the
message hub's ``HistoryBuffer``). :func:`read_checkpoint` keeps weights-only
loading on and allows exactly those types (:func:`checkpoint_safe_globals`,
whatever else the process allowed with ``torch.serialization``) for its own
call only. The list holds no generic callable: the one name a saved message
hub calls, ``builtins.getattr`` (pickle protocol 2 writes the method
``HistoryBuffer.mean`` as ``getattr(HistoryBuffer, 'mean')``), resolves to
:func:`history_buffer_statistic`, which returns one of HistoryBuffer's four
statistics methods and refuses anything else. A loaded checkpoint is then
checked for what a pickle could still plant: an attribute with a dunder
name set on a container (pickle's BUILD on an ``OrderedDict``; a
``__reduce_ex__`` there runs when MMEngine deep-copies the message hub on
resume), and a change to HistoryBuffer's process-wide statistics table.
A checkpoint that needs any other global (a pickled function, an arbitrary
class) is refused, so a checkpoint from the internet cannot run code;
``tests/test_security.py`` shows it with the attacks themselves on every
load path. A bare ``torch.load`` elsewhere keeps torch's default.

Every way a checkpoint can be wrong (missing, truncated, not a torch file,
not a dict, no state dict, weights of another model, objects that could run
code) raises a :class:`CheckpointError`: one line naming the file, what is
wrong and what to do. The same reader serves MMEngine's own loading
(``load_from``, ``resume``, ``init_cfg=dict(type='Pretrained')``) through
the local-file scheme that :mod:`mmseg_temporal.utils.mmengine_patches`
installs (:func:`load_local_checkpoint`), the teacher, the exports, the
inferencer and the studies.

The one helper for "the student's weights in a checkpoint"
(:func:`student_state_dict`) and the one strict load with a key report
(:func:`load_state_dict_strict`) live here too.
"""
import os.path as osp
import pickle
import re
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ['CheckpointError', 'checkpoint_safe_globals', 'history_buffer_statistic',
           'read_checkpoint',
           'model_state_dict', 'student_state_dict', 'check_state_dict_fits',
           'load_state_dict_strict',
           'load_student_weights', 'load_local_checkpoint']

_URL = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')
_SHOWN = 5  # keys shown per list in an error line


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the
    file, what is wrong and what to do."""


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
def _only_safe_globals() -> Iterator[None]:
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


def _refusal(message: str) -> Optional[str]:
    """The object a weights-only refusal names, else ``None``."""
    for pattern in _REFUSALS:
        found = re.search(pattern, message, re.MULTILINE)
        if found:
            return found.group(1).strip()
    return None


def _planted_attribute(obj) -> Optional[str]:
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


def _fail(role: str, path: str, what: str, todo: Optional[str]) -> None:
    raise CheckpointError(f'{role} {path}: {what}' + (f'; {todo}' if todo else ''))


def _torch_load(path: str, map_location, role: str, hint: Optional[str]):
    """``torch.load`` weights-only under the allow-list; every failure is a
    :class:`CheckpointError`."""
    try:
        open(path, 'rb').close()
    except OSError as e:
        _fail(role, path, f'cannot be read ({e.strerror or e})', hint)
    trust = ('load only files you trust, and those with '
             'torch.load(weights_only=False) yourself')
    try:
        if hasattr(torch.serialization, 'clear_safe_globals'):
            with _only_safe_globals():
                ckpt = torch.load(path, map_location=map_location,
                                  weights_only=True)
        else:  # torch < 2.4: no allow-list, plain weights-only
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        refused = _refusal(str(e)) if isinstance(e, pickle.UnpicklingError) \
            else None
        if refused:
            _fail(role, path, f'holds a Python object ({refused}) that '
                  'weights-only loading refuses, so it could run code', trust)
        first = (str(e).splitlines() or [''])[0][:100] or type(e).__name__
        _fail(role, path, f'is truncated or not a torch checkpoint ({first})',
              hint or 'copy it again or re-create it (an interrupted save, '
              'copy or download leaves a truncated file)')
    planted = _planted_attribute(ckpt)
    if planted:
        _fail(role, path, f'holds an object with the attribute {planted} set '
              '(a pickle gadget: it would run code when copied)', trust)
    return ckpt


def read_checkpoint(path: str, role: str = 'checkpoint',
                    hint: Optional[str] = None,
                    map_location: Union[str, Callable, None] = 'cpu',
                    require_state_dict: bool = True) -> dict:
    """Loads a checkpoint weights-only (MMEngine's types allowed).

    Args:
        path: a local file (``~`` expanded) or a URL MMEngine can load.
        role: what the file is for, first word of an error (e.g.
            ``'teacher checkpoint'``).
        hint: what to do when it is missing or unreadable (e.g. ``'train one
            with configs/synthetic/pspnet_small_teacher_tl_synthetic.py'``).
        map_location: as for ``torch.load``.
        require_state_dict: also require a state dict: a ``state_dict`` entry
            or a dict of tensors (off for MMEngine's generic loading, which
            also reads ``{'model': ...}`` style pretrained files).

    Raises:
        CheckpointError: missing, truncated, not a torch checkpoint, not a
            dict, no state dict, or holding objects that could run code.
    """
    path = str(path)
    if _URL.match(path):
        from mmengine.runner.checkpoint import CheckpointLoader
        ckpt = CheckpointLoader.load_checkpoint(path, map_location)
    else:
        path = osp.expanduser(path)
        if not osp.isfile(path):
            _fail(role, path, 'no such file', hint or 'check the path')
        ckpt = _torch_load(path, map_location, role, hint)
    if not isinstance(ckpt, dict):
        _fail(role, path, f'holds a {type(ckpt).__name__}, not a dict of '
              'weights', 'expected a checkpoint saved by MMEngine or a state '
              'dict (torch.save(model.state_dict(), path))')
    if require_state_dict:
        model_state_dict(ckpt, path, role)
    return ckpt


def model_state_dict(ckpt: dict, path: str = '<checkpoint>',
                     role: str = 'checkpoint') -> Dict[str, Tensor]:
    """The model weights of a loaded checkpoint: MMEngine's ``state_dict``
    entry or a bare state dict, with a DDP ``module.`` prefix removed."""
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not any(
            isinstance(v, Tensor) for v in state.values()):
        keys = sorted(map(str, ckpt))[:_SHOWN]
        _fail(role, path, f'has no state dict (top-level keys {keys})',
              "expected a checkpoint saved by MMEngine (with 'state_dict') or "
              'torch.save(model.state_dict(), path)')
    return {(k[7:] if k.startswith('module.') else k): v
            for k, v in state.items()}


def student_state_dict(ckpt: dict, path: str = '<checkpoint>',
                       role: str = 'checkpoint') -> Dict[str, Tensor]:
    """The weights of a plain segmentor in a checkpoint: the student of a
    ``TemporalDistillSegmentor`` checkpoint (its ``student.`` prefix
    removed), or a plain segmentor's (``EncoderDecoder``) as they are.

    Whether they fit a model is :func:`load_state_dict_strict`'s check.
    """
    state = model_state_dict(ckpt, path, role)
    if any(k.startswith('student.') for k in state):
        state = {k[8:]: v for k, v in state.items() if k.startswith('student.')}
    return state


def _key_report(own: Dict[str, Tensor], state: Dict[str, Tensor],
                allow_unexpected: bool) -> Optional[str]:
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}'
              for k in sorted(set(own) & set(state))
              if tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or shapes or (unexpected and not allow_unexpected)):
        return None  # (unexpected keys are named when something else fails)
    parts = []
    if missing:
        parts.append(f'{len(missing)} of {len(own)} model keys missing '
                     f'(e.g. {missing[:_SHOWN]})')
    if unexpected:
        parts.append(f'{len(unexpected)} unexpected keys '
                     f'(e.g. {unexpected[:_SHOWN]})')
    if shapes:
        parts.append(f'{len(shapes)} shape mismatches (checkpoint vs model, '
                     f'e.g. {shapes[:_SHOWN]})')
    return ', '.join(parts)


def check_state_dict_fits(module: nn.Module, state_dict: Dict[str, Tensor],
                          source: str, allow_unexpected: bool = False,
                          hint: Optional[str] = None) -> None:
    """Raises a :class:`CheckpointError` naming ``source`` (e.g. ``'teacher
    checkpoint work_dirs/t/iter_400.pth'``) and some missing, unexpected
    and mis-shaped keys when ``state_dict`` does not fit ``module``.

    ``allow_unexpected``: extra keys in ``state_dict`` are ignored (e.g. an
    auxiliary head the model being tested does not have).
    """
    report = _key_report(module.state_dict(), state_dict, allow_unexpected)
    if report:
        raise CheckpointError(
            f'{source} does not fit the model: {report}; is it a checkpoint '
            f'of another model?' + (f' {hint}' if hint else ''))


def load_state_dict_strict(module: nn.Module, state_dict: Dict[str, Tensor],
                           source: str, allow_unexpected: bool = False,
                           hint: Optional[str] = None) -> None:
    """``module.load_state_dict(state_dict)`` after
    :func:`check_state_dict_fits` (same arguments)."""
    check_state_dict_fits(module, state_dict, source, allow_unexpected, hint)
    module.load_state_dict(state_dict, strict=not allow_unexpected)


def load_student_weights(module: nn.Module, path: str,
                         role: str = 'checkpoint',
                         hint: Optional[str] = None) -> dict:
    """Reads ``path`` (:func:`read_checkpoint`) and loads the plain
    segmentor's weights in it (:func:`student_state_dict`) strictly into
    ``module``. Returns the checkpoint (its ``meta`` holds e.g. the
    ``dataset_meta``)."""
    ckpt = read_checkpoint(path, role, hint)
    state = student_state_dict(ckpt, path, role)
    load_state_dict_strict(module, state, f'{role} {path}', hint=hint)
    return ckpt


def load_local_checkpoint(filename: str,
                          map_location: Union[str, Callable, None] = None):
    """MMEngine's local-file ``CheckpointLoader`` scheme: a
    :func:`read_checkpoint` that accepts any dict (pretrained files come in
    several layouts)."""
    return read_checkpoint(filename, map_location=map_location,
                           require_state_dict=False)

