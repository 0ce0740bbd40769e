# Baseline (scheme a): the student with cross-entropy on labelled frames only.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/hrnet_w18_fcn.py',
    '../_base_/datasets/cityscapes_labelled.py',
    '../_base_/schedules/etc_200e.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(flow=None)
