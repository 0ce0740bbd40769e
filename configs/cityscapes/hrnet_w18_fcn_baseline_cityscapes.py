# Baseline (scheme a): the student with cross-entropy on labelled frames only.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/hrnet_w18_fcn.py',
    '../_base_/datasets/cityscapes_video.py',
    '../_base_/schedules/etc_200e.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
train_dataloader = dict(dataset=dict(
    sample_mode='labelled',
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.1),
             keep_ratio=True),
        dict(type='RandomCrop', crop_size={{_base_.crop_size}},
             cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs'),
    ]))
model = dict(flow=None)
