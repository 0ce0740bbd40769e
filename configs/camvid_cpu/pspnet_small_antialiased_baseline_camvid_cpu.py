# The CPU study's twice-wider student (base width 32) with anti-aliased
# downsampling in its deployable form: every stride-2 convolution blurs its
# input with a 5-tap binomial and keeps its stride (blur_first), max-pools
# are evaluated densely, blurred and subsampled; CE only. The arm
# antialiased_blur5_first of benchmarks/studies/antialias_study.py
# --student small: per frame it beat the plain wide student smoothed by
# EMA 0.5 on CamVid 15 Hz (+0.43 mTC [+0.03, +0.84], 5 seeds, no mIoU
# effect) at 1.03-1.09x its time per frame (docs/results.md section 6).
_base_ = ['./pspnet_small_baseline_camvid_cpu.py']
model = dict(student=dict(backbone=dict(
    type='AntiAliasedResNetV1c', blur_size=5, blur_first=True)))
