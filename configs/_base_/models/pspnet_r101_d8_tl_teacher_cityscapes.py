# The one Cityscapes teacher of the ETC and ablation configs: PSPNet-R101-D8
# trained with CE + TL by configs/cityscapes/pspnet_r101_d8_teacher_tl_cityscapes.py.
# Use: `model = dict(teacher={{_base_.teacher}})`; point it at your run with
#   --cfg-options model.teacher.checkpoint=PATH
teacher = dict(
    config='configs/cityscapes/pspnet_r101_d8_teacher_tl_cityscapes.py',
    checkpoint='work_dirs/pspnet_r101_d8_teacher_tl_cityscapes/iter_74400.pth')
