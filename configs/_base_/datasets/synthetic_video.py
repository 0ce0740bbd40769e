# The project's procedural video (mmseg_temporal.datasets.SyntheticVideoDataset):
# rendered once into data_root, exact labels and exact flow. Frames 96x128.
# With seeded causes of flicker (datasets/synthetic_nuisance.py): of the
# variants measured, the one whose single-frame baseline flickers most like
# CamVid 15 Hz's (docs/results.md, section 3: as often, as much inside
# regions, on small ones). The clean video of the first studies (section
# 1): inherit synthetic_video_clean.py too (datasets with nuisance=None).
dataset_type = 'SyntheticVideoDataset'
nuisance = dict(appearance_overlap=0.85, small_objects=(10, 20), noise_std=6.0,
                lighting_drift=0.15, jpeg_quality=50)
data_root = 'data/synthetic_video_camvid_like'
crop_size = (96, 128)
synthetic_args = dict(
    data_root=data_root, frames_per_video=20, height=96, width=128, seed=0,
    label_start=5, label_interval=5, nuisance=nuisance)

# Training on triplets (f, l, b): one geometric and one photometric draw for
# the three frames; exact flow between consecutive frames of the triplet.
train_pipeline = [
    dict(type='LoadVideoFrames'),
    dict(type='LoadVideoAnnotations'),
    dict(type='LoadSyntheticFlow'),
    dict(type='VideoResize', scale=(128, 96), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='VideoRandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='VideoRandomFlip', prob=0.5),
    dict(type='VideoPhotoMetricDistortion'),
    dict(type='PackVideoSegInputs'),
]
# Testing is per frame, with stock MMSeg transforms.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, split='train', num_videos=8,
                 sample_mode='triplet', offsets_before=(1, 3),
                 offsets_after=(1, 3), pipeline=train_pipeline,
                 **synthetic_args))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='val', num_videos=2,
                 sample_mode='labelled', pipeline=test_pipeline,
                 **synthetic_args))
# Temporal test set: every frame of 2 test videos in order, all labelled
# (the synthetic video has labels everywhere): mIoU and TC in one loop.
sequence_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='LoadAnnotationsIfAny'),
    dict(type='PackSequenceSegInputs'),  # + seq_name, frame_index
]
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='test', num_videos=2,
                 sample_mode='sequence', pipeline=sequence_test_pipeline,
                 **dict(synthetic_args, label_start=0, label_interval=1)))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
# TC with the video's exact flow and visibility (ground truth scores 100;
# with DIS flow it would score about 90, the flow's own error): the metric
# measures the predictions' flicker alone. Every frame is labelled, so
# VSPW's VC_8 / VC_16 run too (a constant prediction scores 100 there: read
# it beside mIoU). mIoU_fast: the frames whose fastest visible object is at
# least the 75th percentile of that speed over the split (where a lagging
# smoother loses most).
test_evaluator = [
    dict(type='SparseIoUMetric', iou_metrics=['mIoU'],
         subset=dict(key='object_speed', quantile=0.75, name='fast')),
    dict(type='TemporalConsistencyMetric', flow=dict(type='SyntheticExactFlow')),
    dict(type='VideoConsistencyMetric', n=(8, 16)),
]
