# Student + temporal loss (scheme e), flow from FlowNet2.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_r18_d8.py',
    '../_base_/datasets/cityscapes_video.py',
    '../_base_/schedules/etc_200e.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(losses=dict(tl={{_base_.tl}}))
