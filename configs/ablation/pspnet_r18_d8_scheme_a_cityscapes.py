# Table 1, scheme a: baseline, cross-entropy on labelled frames only.
_base_ = ['../cityscapes/pspnet_r18_d8_baseline_cityscapes.py']
