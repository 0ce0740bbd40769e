# The synthetic video's labelled frames as a plain single-frame dataset, with
# stock MMSeg transforms: what a stock EncoderDecoder (the baseline) trains on.
_base_ = ['./synthetic_video.py']
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(128, 96), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(sample_mode='labelled', pipeline=train_pipeline))
