# CPU study (issue 23): the tiny student + TL (symmetric KL, weight 1) on real
# CamVid triplets (DIS flow cache) of which half, drawn per sample, are
# replaced by a clip of their labelled frame under random camera motions with
# exact flow (StillToClip(prob=0.5)): synthetic clips mixed with real ones.
# The paired control sets loss_weight=0.
_base_ = ['./pspnet_tiny_tl_camvid_cpu.py']
mixed_pipeline = [
    dict(type='LoadVideoFrames'),
    dict(type='LoadVideoAnnotations'),
    dict(type='LoadPrecomputedFlow', cache_dir={{_base_.flow_cache}},
         data_root={{_base_.data_root}}),
    dict(type='StillToClip', prob=0.5),
    dict(type='VideoResize', scale=(240, 180), ratio_range=(0.75, 1.25),
         keep_ratio=True),
    dict(type='VideoRandomCrop', crop_size={{_base_.crop_size}}, cat_max_ratio=0.75),
    dict(type='VideoRandomFlip', prob=0.5),
    dict(type='VideoPhotoMetricDistortion'),
    dict(type='PackVideoSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=mixed_pipeline))
model = dict(losses=dict(tl=dict(compare='kl', loss_weight=1.0)))
