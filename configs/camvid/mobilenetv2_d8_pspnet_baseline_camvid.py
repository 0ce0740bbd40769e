# CamVid baseline: MobileNetV2-D8 PSPNet, cross-entropy on labelled frames.
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/mobilenetv2_d8_pspnet_camvid.py',
    '../_base_/datasets/camvid_video.py',
    '../_base_/schedules/etc_camvid.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
model = dict(flow=None)
train_dataloader = dict(dataset=dict(
    sample_mode='labelled',
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomResize', scale=(960, 720), ratio_range=(0.5, 2.0),
             keep_ratio=True),
        dict(type='RandomCrop', crop_size={{_base_.crop_size}},
             cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs'),
    ]))
