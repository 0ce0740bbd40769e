# The CPU study's tiny student with anti-aliased downsampling
# (AntiAliasedResNetV1c: every stride-2 convolution and max-pool evaluated
# densely, blurred and subsampled), CE only: the anti-aliased arm of
# benchmarks/studies/antialias_study.py (+3.19 mTC [+1.21, +5.17] on the
# 15 Hz run over the plain student, no mIoU effect; docs/results.md
# section 6).
_base_ = ['./pspnet_tiny_baseline_camvid_cpu.py']
model = dict(student=dict(backbone=dict(type='AntiAliasedResNetV1c')))
