# CPU study, scheme e: the tiny student + temporal loss (DIS flow cache).
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny_camvid_cpu.py',
    '../_base_/datasets/camvid_cpu.py',
    '../_base_/schedules/camvid_cpu.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(losses=dict(tl={{_base_.tl}}))
