# ETC (scheme j, "+ALL"): the student distilled from the PSPNet-R101 + TL
# teacher with SF + PF + MF and trained with the temporal loss.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/mobilenetv2_d8_pspnet.py',
    '../_base_/datasets/cityscapes_video.py',
    '../_base_/schedules/etc_200e.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
teacher_checkpoint = 'work_dirs/pspnet_r101_d8_teacher_tl_cityscapes/iter_74400.pth'
model = dict(
    teacher=dict(
        config='configs/cityscapes/pspnet_r101_d8_teacher_tl_cityscapes.py',
        checkpoint=teacher_checkpoint),
    losses=dict(tl={{_base_.tl}}, sf_pixel={{_base_.sf_pixel}},
                sf_pair={{_base_.sf_pair}}, pf={{_base_.pf}},
                mf={{_base_.mf}}))
custom_hooks = {{_base_.mf_hooks}}
