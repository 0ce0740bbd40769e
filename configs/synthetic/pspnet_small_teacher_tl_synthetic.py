# Teacher for the synthetic video: a wider PSPNet-R18-D8 (base width 32)
# trained with cross-entropy + the temporal loss (paper Table 3, teacher + TL).
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny_student.py',
    '../_base_/datasets/synthetic_video.py',
    '../_base_/schedules/synthetic_cpu.py',
    '../_base_/etc_losses.py',
    '../_base_/models/pspnet_small_width.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(student={{_base_.small_width}},
             losses=dict(tl={{_base_.tl_release_5cls}}))
