# Scheme e: the tiny student + the temporal loss, on triplets with the
# synthetic video's exact flow.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny_student.py',
    '../_base_/datasets/synthetic_video.py',
    '../_base_/schedules/synthetic_cpu.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(losses=dict(tl={{_base_.tl_release_5cls}}))
