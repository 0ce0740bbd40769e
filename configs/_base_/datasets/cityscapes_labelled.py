# Cityscapes' labelled frames alone (single frames, stock MMSeg transforms):
# what the baselines (scheme a) train on.
_base_ = ['./cityscapes_video.py']
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
