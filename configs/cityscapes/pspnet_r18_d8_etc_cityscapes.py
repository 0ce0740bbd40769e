# ETC (scheme j, "+ALL"): the student distilled from the PSPNet-R101 + TL
# teacher with SF + PF + MF, and trained with the temporal loss.
_base_ = ['./pspnet_r18_d8_tl_cityscapes.py']
teacher_checkpoint = 'work_dirs/pspnet_r101_d8_teacher_tl_cityscapes/iter_74400.pth'
model = dict(
    teacher=dict(
        config='configs/cityscapes/pspnet_r101_d8_teacher_tl_cityscapes.py',
        checkpoint=teacher_checkpoint),
    losses=dict(sf_pixel={{_base_.sf_pixel}}, sf_pair={{_base_.sf_pair}},
                pf={{_base_.pf}}, mf={{_base_.mf}}))
custom_hooks = {{_base_.mf_hooks}}
