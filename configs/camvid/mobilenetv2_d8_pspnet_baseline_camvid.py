# CamVid baseline: MobileNetV2-D8 PSPNet, cross-entropy on labelled frames.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/mobilenetv2_d8_pspnet_camvid.py',
    '../_base_/datasets/camvid_labelled.py',
    '../_base_/schedules/etc_camvid.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(flow=None)
