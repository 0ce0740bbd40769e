# CPU study, scheme a: the tiny student, CE on the labelled frames only.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny_camvid_cpu.py',
    '../_base_/datasets/camvid_cpu.py',
    '../_base_/schedules/camvid_cpu.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
train_dataloader = dict(dataset=dict(
    sample_mode='labelled', pipeline={{_base_.labelled_train_pipeline}}))
