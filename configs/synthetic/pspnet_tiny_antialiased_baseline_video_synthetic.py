# The baseline student (CE only on the labelled frames) with anti-aliased
# downsampling: every stride-2 convolution and max-pool of its ResNetV1c
# evaluated densely, blurred with a 5-tap binomial and subsampled
# (AntiAliasedResNetV1c, docs/training.md), the form that did best on CamVid
# 15 Hz (+4.43 mTC over the plain student, no mIoU effect). It loads and
# exports like the plain student. On this CamVid-like video the 3-tap form
# had no effect (docs/results.md section 6).
_base_ = ['./pspnet_tiny_baseline_video_synthetic.py']
model = dict(student=dict(backbone=dict(type='AntiAliasedResNetV1c', blur_size=5)))
