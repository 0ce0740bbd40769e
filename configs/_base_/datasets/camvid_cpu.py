# CamVid at half resolution for CPU training from scratch (the study in
# docs/results.md): frames 180x240 (the release's 360x480 halved), crops
# 176x224, flow served from a DIS flow cache (tools/precompute_flow.py).
_base_ = ['./camvid_video.py']
data_root = 'data/camvid/'
flow_cache = 'data/camvid_flow_cache/'
crop_size = (176, 224)
train_pipeline = [
    dict(type='LoadVideoFrames'),
    dict(type='LoadVideoAnnotations'),
    dict(type='LoadPrecomputedFlow', cache_dir=flow_cache, data_root=data_root),
    dict(type='VideoResize', scale=(240, 180), ratio_range=(0.75, 1.25),
         keep_ratio=True),
    dict(type='VideoRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='VideoRandomFlip', prob=0.5),
    dict(type='VideoPhotoMetricDistortion'),
    dict(type='PackVideoSegInputs'),
]
labelled_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(240, 180), ratio_range=(0.75, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(240, 180), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=2,
    dataset=dict(data_root=data_root,
                 data_prefix=dict(img_path='val', seg_map_path='valannot'),
                 pipeline=test_pipeline))
test_dataloader = dict(
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(240, 180), keep_ratio=True),
        dict(type='LoadAnnotationsIfAny'),
        dict(type='PackSequenceSegInputs'),
    ]))
test_evaluator = [
    dict(type='SparseIoUMetric', iou_metrics=['mIoU']),
    dict(type='TemporalConsistencyMetric',
         flow=dict(type='PrecomputedFlow', cache_dir=flow_cache,
                   data_root=data_root, on_missing='compute',
                   estimator=dict(type='DISFlow', preset='medium')),
         sequence_prefixes=['Seq05VD']),
]
