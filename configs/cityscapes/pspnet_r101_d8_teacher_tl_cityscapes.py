# Teacher: PSPNet-ResNet101-D8 trained with CE + the temporal loss (Table 3).
# Usual start: MMSeg's pspnet_r101-d8 Cityscapes checkpoint as init:
#   --cfg-options load_from=checkpoints/pspnet_r101-d8_512x1024_80k_cityscapes.pth
# (a plain MMSeg checkpoint: use `model.student.init_cfg` or convert with
# tools/export_student.py the other way round; see docs/training.md).
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_r101_d8.py',
    '../_base_/datasets/cityscapes_video.py',
    '../_base_/schedules/etc_200e.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(losses=dict(tl={{_base_.tl}}))
