# CamVid's labelled frames alone (single frames, stock MMSeg transforms):
# what the baseline (scheme a) trains on.
_base_ = ['./camvid_video.py']
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
