"""mmseg_temporal: temporally consistent per-frame video segmentation for
MMSegmentation 1.x (Liu et al., "Efficient Semantic Video Segmentation with
Per-frame Inference", ECCV 2020).

``import mmseg_temporal`` (or ``custom_imports =
dict(imports=['mmseg_temporal'])`` in a config) registers every dataset,
transform, model, loss, metric and hook of the package in MMSeg's
registries, and allows the few types that MMEngine checkpoints hold through
torch's weights-only loader (see :mod:`mmseg_temporal.utils.checkpoint`), and
makes MMEngine's local checkpoint writes atomic (:mod:`mmseg_temporal.utils.atomic`).
"""
from .version import __version__
from .utils.atomic import make_mmengine_local_writes_atomic
from .utils.checkpoint import register_checkpoint_safe_globals

register_checkpoint_safe_globals()
make_mmengine_local_writes_atomic()

from . import apis, datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
