# CamVid: MobileNetV2-D8 PSPNet + temporal loss.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/mobilenetv2_d8_pspnet_camvid.py',
    '../_base_/datasets/camvid_video.py',
    '../_base_/schedules/etc_camvid.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(losses=dict(tl={{_base_.tl}}))
