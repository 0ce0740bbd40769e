# CPU study teacher: PSPNet-R18-D8 base width 32, CE + temporal loss
# (in the study: fine-tuned from pspnet_small_baseline_camvid_cpu.py).
_base_ = ['./pspnet_tiny_tl_camvid_cpu.py',
          '../_base_/models/pspnet_small_width.py']
model = dict(student={{_base_.small_width}})
