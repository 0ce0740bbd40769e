# CamVid teacher: PSPNet-ResNet101-D8 + temporal loss, 11 classes, crop 640.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_r101_d8.py',
    '../_base_/datasets/camvid_video.py',
    '../_base_/schedules/etc_camvid.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(
    data_preprocessor=dict(size=(640, 640)),
    student=dict(decode_head=dict(num_classes=11),
                 auxiliary_head=dict(num_classes=11)),
    losses=dict(tl={{_base_.tl}}))
