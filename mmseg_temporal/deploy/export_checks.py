"""What an export may write: checked dataset metadata and literal-data
config text (:mod:`.export`).

A checkpoint is not trusted, so nothing from it may become code in the
exported config: :func:`checked_dataset_meta` keeps only checked plain
values, and :func:`check_literal_config` refuses a config text that is
anything but assignments of literal data.
"""
import ast

import torch
from mmengine.logging import print_log

from ..utils.checkpoint import CheckpointError

__all__ = ['checked_dataset_meta', 'check_literal_config']

_PLAIN = (type(None), bool, int, float, str)
# Literal data in a Python file: what the exported config may contain.
_DATA_NODES = (ast.Module, ast.Assign, ast.Name, ast.Store, ast.Load,
               ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.Call,
               ast.keyword, ast.UnaryOp, ast.USub, ast.UAdd)


def _plain(value):
    """Tensors and plain Python only (weights-only loadable)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if hasattr(value, 'item') and not isinstance(value, torch.Tensor):
        return value.item()  # numpy scalar
    if hasattr(value, 'tolist') and not isinstance(value, torch.Tensor):
        return value.tolist()  # numpy array
    return value


def _is_plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, _PLAIN) and _is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, _PLAIN)


def _text(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _check_classes(value, where: str) -> list:
    if not isinstance(value, (list, tuple)) or not value or \
            not all(type(c) is str for c in value):
        raise CheckpointError(f'{where} must be a non-empty list of str, got '
                              f'{_text(value)}')
    for name in value:
        if '{{' in name or '}}' in name:  # MMEngine substitutes these on load
            raise CheckpointError(f'{where} has the class name {_text(name)}: '
                                  "'{{' and '}}' are not allowed")
    return list(value)


def _check_palette(value, where: str) -> list:
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(c, (list, tuple)) and len(c) == 3 and all(
                type(v) is int and 0 <= v <= 255 for v in c) for c in value):
        raise CheckpointError(f'{where} must be a list of [r, g, b] ints in '
                              f'0..255, got {_text(value)}')
    return [list(c) for c in value]


def _check_bool(value, where: str) -> bool:
    if type(value) is not bool:
        raise CheckpointError(f'{where} must be True or False, got {_text(value)}')
    return value


_EXPORTED = {'classes': _check_classes, 'palette': _check_palette,
             'reduce_zero_label': _check_bool}


def checked_dataset_meta(dataset_meta, source: str) -> dict:
    """The exported part of a checkpoint's ``meta['dataset_meta']``:
    ``classes``, ``palette`` and ``reduce_zero_label``, checked (see the
    module doc). ``source`` names the checkpoint in errors.

    Raises:
        CheckpointError: a key that is not an identifier or holds more than
            plain data, or an exported key with a wrong value.
    """
    if dataset_meta is None:
        return {}
    where = f'{source}: meta.dataset_meta'
    if not isinstance(dataset_meta, dict):
        raise CheckpointError(f'{where} must be a dict, got '
                              f'{type(dataset_meta).__name__}')
    meta, dropped = {}, []
    for key, value in dataset_meta.items():
        value = _plain(value)
        if key in _EXPORTED:
            meta[key] = _EXPORTED[key](value, f'{where}[{key!r}]')
        elif isinstance(key, str) and key.isidentifier() and _is_plain(value):
            dropped.append(key)
        else:
            raise CheckpointError(
                f'{where} has the key {_text(key)} holding {_text(value)}: '
                'only classes (list of str), palette (list of [r, g, b]) and '
                'reduce_zero_label (bool) are exported; remove the key')
    if 'palette' in meta and 'classes' in meta and \
            len(meta['palette']) != len(meta['classes']):
        raise CheckpointError(f"{where}['palette'] has {len(meta['palette'])} "
                              f"colours for {len(meta['classes'])} classes")
    if dropped:
        print_log(f'export: dataset_meta keys {dropped} of {source} are not '
                  'exported (only classes, palette, reduce_zero_label)',
                  logger='current')
    return meta


def check_literal_config(text: str) -> None:
    """Raises ``ValueError`` unless ``text`` only assigns literal data to
    names (dicts, ``dict(...)`` calls, lists, tuples, constants)."""
    for node in ast.walk(ast.parse(text)):
        ok = isinstance(node, _DATA_NODES)
        if isinstance(node, ast.Call):
            ok = isinstance(node.func, ast.Name) and node.func.id == 'dict' \
                and not node.args
        elif isinstance(node, ast.Name):
            ok = node.id == 'dict' if isinstance(node.ctx, ast.Load) else \
                not node.id.startswith('_') and node.id != 'dict'
        elif isinstance(node, ast.keyword):
            ok = node.arg is not None
        elif isinstance(node, ast.UnaryOp):
            ok = isinstance(node.operand, ast.Constant)
        if not ok:
            raise ValueError('the exported config would hold '
                             f'{type(node).__name__} at line '
                             f'{getattr(node, "lineno", "?")}, not data: '
                             'export only plain config values')
