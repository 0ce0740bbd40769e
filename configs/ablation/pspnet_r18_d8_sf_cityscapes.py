# Table 1, scheme b: SF (pixel-wise + pair-wise within a frame).
_base_ = ['../_base_/ablation_pspnet_r18_d8_cityscapes.py']
model = dict(losses=dict(sf_pixel={{_base_.sf_pixel}}, sf_pair={{_base_.sf_pair}}))
