# The Table 1 ablation's common part (configs/ablation/): the PSPNet-R18-D8
# student on Cityscapes triplets (scheme e's data, schedule and flow), the
# shared PSPNet-R101-D8 + TL teacher, and no loss term yet. A scheme names
# its terms only:
#   _base_ = ['../_base_/ablation_pspnet_r18_d8_cityscapes.py']
#   model = dict(losses=dict(pf={{_base_.pf}}, mf={{_base_.mf}}))
#   custom_hooks = {{_base_.mf_hooks}}  # with MF
_base_ = [
    '../cityscapes/pspnet_r18_d8_tl_cityscapes.py',
    './models/pspnet_r101_d8_tl_teacher_cityscapes.py',
]
model = dict(
    teacher={{_base_.teacher}},
    losses=dict(_delete_=True))
