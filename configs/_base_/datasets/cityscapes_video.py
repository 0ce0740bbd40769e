# Cityscapes video (leftImg8bit_sequence + gtFine), appendix B.2 of the paper:
# triplets (f, labelled 20th frame, b) with the random sample policy inside
# each 30-frame snippet, random scale 0.5-2.1, crop 769, flip; 8 triplets a
# batch over the cards (2 per GPU x 4 GPUs). Flow: computed online by the
# segmentor's estimator, or from a flow cache (tools/precompute_flow.py and a
# LoadPrecomputedFlow step, as configs/_base_/datasets/camvid_cpu.py does; docs/flow.md).
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
# Temporal test set: 100 val snippets sampled once (seed 0) as in the paper
# (num_sequences=None for all 500), every frame in order: mIoU on their
# labelled 20th frames (SparseIoUMetric) and TC over all frame pairs. The val
# loop above gives the usual mIoU on all 500 labelled frames.
sequence_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_pipeline[1]['scale'], keep_ratio=True),
    dict(type='LoadAnnotationsIfAny'),
    dict(type='PackSequenceSegInputs'),  # + seq_name, frame_index
]
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit_sequence/val',
                         seg_map_path='gtFine/val'),
        sample_mode='sequence', num_sequences=100, sequence_seed=0,
        pipeline=sequence_test_pipeline))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = [
    dict(type='SparseIoUMetric', iou_metrics=['mIoU']),
    dict(type='TemporalConsistencyMetric', flow=dict(type='DISFlow')),
]
