"""mmseg_temporal: temporally consistent per-frame video segmentation for
MMSegmentation 1.x (Liu et al., "Efficient Semantic Video Segmentation with
Per-frame Inference", ECCV 2020).

``import mmseg_temporal`` (or ``custom_imports =
dict(imports=['mmseg_temporal'])`` in a config) registers every dataset,
transform, model, loss, metric and hook of the package in MMSeg's
registries, and applies the few process-wide changes to MMEngine listed in
:mod:`mmseg_temporal.utils.mmengine_patches` (weights-only checkpoint
loading that accepts MMEngine's own checkpoints, atomic local writes, one
warnings filter).
"""
from .utils.mmengine_patches import apply_mmengine_patches
from .version import __version__

apply_mmengine_patches()

from . import (  # noqa: E402,F401  (registers every module)
    datasets,
    demo,
    deploy,
    engine,
    evaluation,
    experiments,
    flow,
    inference,
    models,
    visualization,
)

__all__ = ['__version__']
