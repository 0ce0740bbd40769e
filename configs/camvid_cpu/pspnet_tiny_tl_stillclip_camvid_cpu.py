# CPU study (issue 23): the tiny student + the temporal loss on clips made of
# single labelled frames. Every labelled training frame becomes (f, labelled,
# b) under independent random camera motions with exact flow and per-frame
# sensor nuisance (StillToClip, defaults: shift 6 px, rotation 1 deg, zoom 3 %,
# shear 1 deg at 360x480), then the base's video transforms (its triplet
# pipeline after the loading steps); no flow estimator and no video needed.
# TL in its symmetric-KL form at weight 1 (where the pilot's fine-tunes
# peaked); the paired control sets loss_weight=0.
_base_ = ['./pspnet_tiny_tl_camvid_cpu.py']
train_dataloader = dict(dataset=dict(sample_mode='labelled', pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='StillToClip'),
] + _base_.train_pipeline[3:]))
model = dict(losses=dict(tl=dict(compare='kl', loss_weight=1.0)))
