# Table 1, scheme g: PF + TL.
# PSPNet-R18-D8 student, the shared PSPNet-R101-D8 + TL teacher, triplets.
_base_ = [
    '../cityscapes/pspnet_r18_d8_tl_cityscapes.py',
    '../_base_/models/pspnet_r101_d8_tl_teacher_cityscapes.py',
]
model = dict(
    teacher={{_base_.teacher}},
    losses=dict(
        _delete_=True,
        pf={{_base_.pf}},
        tl={{_base_.tl}},
    ))
