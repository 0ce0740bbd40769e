# The CPU study's twice-wider student (base width 32) with anti-aliased
# downsampling in its deployable form: every stride-2 convolution blurs its
# input with a 5-tap binomial and keeps its stride (blur_first), max-pools
# are evaluated densely, blurred and subsampled; CE only. The arm
# antialiased_blur5_first of benchmarks/studies/antialias_study.py
# --student small: on CamVid 15 Hz +3.31 mTC [+2.40, +4.23] over the plain
# wide student, level with it smoothed by EMA 0.5 (-0.11 [-1.02, +0.80]),
# -0.63 mIoU on the test split (5 seeds from the same initial weights), at
# 1.03-1.09x its time per frame (docs/results.md section 6).
_base_ = ['./pspnet_small_baseline_camvid_cpu.py']
model = dict(student=dict(backbone=dict(
    type='AntiAliasedResNetV1c', blur_size=5, blur_first=True)))
