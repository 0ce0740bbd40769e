# ETC ("+ALL", Table 1 scheme j): the student distilled from the PSPNet-R101
# + TL teacher with SF + PF + MF, and trained with the temporal loss.
_base_ = [
    './mobilenetv2_d8_pspnet_tl_cityscapes.py',
    '../_base_/models/pspnet_r101_d8_tl_teacher_cityscapes.py',
]
model = dict(
    teacher={{_base_.teacher}},
    losses=dict(sf_pixel={{_base_.sf_pixel}}, sf_pair={{_base_.sf_pair}},
                pf={{_base_.pf}}, mf={{_base_.mf}}))
custom_hooks = {{_base_.mf_hooks}}
