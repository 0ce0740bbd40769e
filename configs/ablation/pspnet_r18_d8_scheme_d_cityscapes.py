# Table 1, scheme d: MF (PSPNet-R18 student, Cityscapes).
_base_ = ['../cityscapes/pspnet_r18_d8_tl_cityscapes.py']
teacher_checkpoint = 'work_dirs/pspnet_r101_d8_teacher_tl_cityscapes/iter_74400.pth'
model = dict(
    teacher=dict(
        config='configs/cityscapes/pspnet_r101_d8_teacher_tl_cityscapes.py',
        checkpoint=teacher_checkpoint),
    losses=dict(_delete_=True, mf={{_base_.mf}}))
custom_hooks = {{_base_.mf_hooks}}
