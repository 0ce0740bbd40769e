# Issue 23 (the second data set): the tiny student + the temporal loss on
# clips made of the labelled training frames of the CamVid-like synthetic
# video. Every labelled frame becomes (f, labelled, b) under independent
# random camera motions with exact flow and per-frame sensor nuisance
# (StillToClip), then the video transforms of the triplet pipeline. Motion
# magnitudes are the CamVid pilot's scaled from 360x480 to these 96x128
# frames (shift 6 -> 1.6 px; rotation, zoom and shear are scale-free).
# TL in its symmetric-KL form at weight 1; the paired control sets
# loss_weight=0.
_base_ = ['./pspnet_tiny_tl_synthetic.py']
train_dataloader = dict(dataset=dict(sample_mode='labelled', pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='StillToClip', motion=dict(shift=1.6)),
] + _base_.train_pipeline[3:]))
model = dict(losses=dict(tl=dict(compare='kl', loss_weight=1.0)))
