# The CPU study's tiny student with anti-aliased downsampling
# (AntiAliasedResNetV1c: every stride-2 convolution and max-pool evaluated
# densely, blurred with a 5-tap binomial and subsampled), CE only: the arm
# antialiased_blur5 of benchmarks/studies/antialias_study.py (+4.43 mTC
# [+3.11, +5.74] on the 15 Hz run over the plain student, +1.23 [+0.35,
# +2.12] over the 3-tap default, no mIoU effect; docs/results.md section 6).
_base_ = ['./pspnet_tiny_baseline_camvid_cpu.py']
model = dict(student=dict(backbone=dict(type='AntiAliasedResNetV1c', blur_size=5)))
