"""Every change ``import mmseg_temporal`` makes to MMEngine, in one place.

:func:`apply_mmengine_patches` is called once by ``mmseg_temporal/__init__``
(and so by ``custom_imports=dict(imports=['mmseg_temporal'])`` in any MMSeg
config). It changes, for the whole process:

1. **MMEngine's local-file checkpoint loader** (the ``''`` scheme of
   ``mmengine.runner.checkpoint.CheckpointLoader``, behind ``load_from``,
   ``resume``, ``load_checkpoint`` and ``init_cfg=dict(type='Pretrained')``)
   becomes :func:`~mmseg_temporal.utils.checkpoint.load_local_checkpoint`.
   Why: on torch >= 2.6 ``torch.load`` is weights-only and refuses the
   NumPy and ``HistoryBuffer`` objects MMEngine 0.10.7 saves, so without it
   resuming and testing fail; the replacement keeps weights-only loading on
   with exactly those types allowed and no generic callable (the
   ``getattr`` a saved message hub calls returns HistoryBuffer's statistics
   methods only), refuses attributes planted on containers (run when the
   message hub is deep-copied on resume), so no code can run from a
   checkpoint, and a missing, truncated or non-checkpoint file gives one
   ``CheckpointError`` line naming it instead of a raw torch traceback.
2. **``mmengine.fileio.backends.LocalBackend.put`` and ``put_text``**
   write through :func:`~mmseg_temporal.utils.atomic.atomic_write_bytes`.
   Why: ``save_checkpoint`` and the ``CheckpointHook``'s
   ``last_checkpoint`` record go through them; a run killed while saving
   would otherwise leave a truncated checkpoint that ``--resume`` then
   picks. The files keep the mode a plain write gives them (umask applied).
3. **One warnings filter**: setuptools >= 80's ``UserWarning``
   "pkg_resources is deprecated as an API", which MMEngine triggers by
   importing ``pkg_resources`` (``mmseg::`` config bases, ``is_installed``),
   is ignored. Why: it is printed on every run, names no action for the
   user, and MMEngine 0.10.7 needs ``pkg_resources`` (setuptools < 81).

Nothing else in MMEngine, MMCV or MMSeg is modified. Each patch is
idempotent; :data:`APPLIED` lists those applied.
"""
import warnings
from typing import List

__all__ = ['apply_mmengine_patches', 'APPLIED']

APPLIED: List[str] = []


def _weights_only_checkpoint_loader() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader

    from .checkpoint import load_local_checkpoint
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint,
                                     force=True)


def _atomic_local_writes() -> None:
    from mmengine.fileio.backends import LocalBackend

    from .atomic import atomic_write_bytes, atomic_write_text

    def put(self, obj: bytes, filepath) -> None:
        """Writes bytes to a local file atomically (mmseg_temporal)."""
        atomic_write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        """Writes text to a local file atomically (mmseg_temporal)."""
        atomic_write_text(filepath, obj, encoding)

    LocalBackend.put = put
    LocalBackend.put_text = put_text


def _quiet_pkg_resources_warning() -> None:
    warnings.filterwarnings(
        'ignore', message=r'pkg_resources is deprecated as an API',
        category=UserWarning)


_PATCHES = {
    'weights_only_checkpoint_loader': _weights_only_checkpoint_loader,
    'atomic_local_writes': _atomic_local_writes,
    'quiet_pkg_resources_warning': _quiet_pkg_resources_warning,
}


def apply_mmengine_patches() -> None:
    """Applies each patch of the module docstring once."""
    for name, patch in _PATCHES.items():
        if name not in APPLIED:
            patch()
            APPLIED.append(name)
