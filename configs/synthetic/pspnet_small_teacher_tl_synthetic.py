# Teacher for the synthetic video: a wider PSPNet-R18-D8 (base width 32)
# trained with cross-entropy + the temporal loss (paper Table 3, teacher + TL).
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny_student.py',
    '../_base_/datasets/synthetic_video.py',
    '../_base_/schedules/synthetic_cpu.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(
    student=dict(
        backbone=dict(base_channels=32, stem_channels=32),
        decode_head=dict(in_channels=256, channels=64)),
    losses=dict(tl={{_base_.tl_release_5cls}}))
