# Table 1, scheme c: PF (pixels of frame t vs frame t+1).
_base_ = ['../_base_/ablation_pspnet_r18_d8_cityscapes.py']
model = dict(losses=dict(pf={{_base_.pf}}))
