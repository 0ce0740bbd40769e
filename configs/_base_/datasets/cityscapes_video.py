# Cityscapes video (leftImg8bit_sequence + gtFine), appendix B.2 of the paper:
# triplets (f, labelled 20th frame, b) with the random sample policy inside
# each 30-frame snippet, random scale 0.5-2.1, crop 769, flip; 8 triplets a
# batch over the cards (2 per GPU x 4 GPUs). Flow: computed online by the
# segmentor's estimator, or from a cache (see configs/cityscapes/*_cache*).
dataset_type = 'CityscapesVideoDataset'
data_root = 'data/cityscapes/'
crop_size = (769, 769)
train_pipeline = [
    dict(type='LoadVideoFrames'),
    dict(type='LoadVideoAnnotations'),
    dict(type='VideoResize', scale=(2048, 1024), ratio_range=(0.5, 2.1),
         keep_ratio=True),
    dict(type='VideoRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='VideoRandomFlip', prob=0.5),
    dict(type='VideoPhotoMetricDistortion'),
    dict(type='PackVideoSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit_sequence/train',
                         seg_map_path='gtFine/train'),
        sample_mode='triplet', offsets_before=(1, 5), offsets_after=(1, 5),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit_sequence/val',
                         seg_map_path='gtFine/val'),
        sample_mode='labelled', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
