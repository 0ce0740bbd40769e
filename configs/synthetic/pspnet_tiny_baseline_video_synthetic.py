# Scheme a inside the TemporalDistillSegmentor: cross-entropy only, on the
# labelled frames (the wrapper then behaves as the plain student). Gives the
# same training as pspnet_tiny_baseline_synthetic.py (stock EncoderDecoder)
# and a checkpoint that tools/export_student.py handles like the others.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny_student.py',
    '../_base_/datasets/synthetic_labelled.py',
    '../_base_/schedules/synthetic_cpu.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
