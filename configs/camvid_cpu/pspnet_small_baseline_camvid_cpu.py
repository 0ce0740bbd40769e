# CPU study teacher, stage 1: the base-width-32 PSPNet, CE on the labelled
# frames only (benchmarks/studies/camvid_study.py then fine-tunes it with TL).
_base_ = ['./pspnet_tiny_baseline_camvid_cpu.py',
          '../_base_/models/pspnet_small_width.py']
model = dict(student={{_base_.small_width}})
