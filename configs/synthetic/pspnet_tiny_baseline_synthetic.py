# Baseline (scheme a): the tiny PSPNet student trained with cross-entropy on
# the synthetic video's labelled frames, stock MMSeg EncoderDecoder.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny.py',
    '../_base_/datasets/synthetic_labelled.py',
    '../_base_/schedules/synthetic_cpu.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
