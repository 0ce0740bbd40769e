"""Reading checkpoints: weights-only, with one clear line when it fails.

torch >= 2.6 unpickles checkpoints with ``weights_only=True`` by default, and
a checkpoint that MMEngine 0.10.7's Runner saves holds, besides tensors, a
few plain Python/NumPy objects (NumPy arrays and scalars in ``meta``, the
message hub's ``HistoryBuffer``). :func:`read_checkpoint` keeps weights-only
loading on and allows exactly those types for its own call only, whatever
else the process allowed with ``torch.serialization``
(:mod:`.weights_only`). The list holds no generic callable: the
``builtins.getattr`` a saved message hub calls resolves to
:func:`~.weights_only.history_buffer_statistic`, which returns one of
HistoryBuffer's four statistics methods and refuses anything else. A loaded
checkpoint is then checked for what a pickle could still plant: an
attribute with a dunder name on a container (a ``__reduce_ex__`` on an
``OrderedDict`` runs when MMEngine deep-copies the message hub on resume),
or a change to HistoryBuffer's process-wide statistics table. So a
checkpoint from the internet cannot run code; ``tests/test_security.py``
shows it with the attacks themselves on every load path. A bare
``torch.load`` elsewhere keeps torch's default.

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
from typing import Callable, Dict, Optional, Union

import torch
from torch import Tensor, nn

from .weights_only import (
    checkpoint_safe_globals,
    history_buffer_statistic,
    only_safe_globals,
    planted_attribute,
    refusal,
)

__all__ = ['CheckpointError', 'checkpoint_safe_globals', 'history_buffer_statistic',
           'read_checkpoint',
           'model_state_dict', 'student_state_dict', 'check_state_dict_fits',
           'load_state_dict_strict',
           'load_student_weights', 'load_local_checkpoint']

_URL = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')
_SHOWN = 5  # keys shown per list in an error line
_TRUST = ('load only files you trust, and those yourself with torch.load, '
          'weights-only loading switched off')


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the
    file, what is wrong and what to do."""


def _fail(role: str, path: str, what: str, todo: Optional[str]) -> None:
    raise CheckpointError(f'{role} {path}: {what}' + (f'; {todo}' if todo else ''))


def _torch_load(path: str, map_location, role: str, hint: Optional[str]):
    """``torch.load`` weights-only under the allow-list; every failure is a
    :class:`CheckpointError`."""
    try:
        open(path, 'rb').close()
    except OSError as e:
        _fail(role, path, f'cannot be read ({e.strerror or e})', hint)
    try:
        if hasattr(torch.serialization, 'clear_safe_globals'):
            with only_safe_globals():
                ckpt = torch.load(path, map_location=map_location,
                                  weights_only=True)
        else:  # torch < 2.4: no allow-list, plain weights-only
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        refused = refusal(str(e)) if isinstance(e, pickle.UnpicklingError) \
            else None
        if refused:
            _fail(role, path, f'holds a Python object ({refused}) that '
                  'weights-only loading refuses, so it could run code', _TRUST)
        first = (str(e).splitlines() or [''])[0][:100] or type(e).__name__
        _fail(role, path, f'is truncated or not a torch checkpoint ({first})',
              hint or 'copy it again or re-create it (an interrupted save, '
              'copy or download leaves a truncated file)')
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
    planted = planted_attribute(ckpt)
    if planted:
        _fail(role, path, f'holds an object with the attribute {planted} set '
              '(a pickle gadget: it would run code when copied)', _TRUST)
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

