# Table 1, scheme g: PF + TL.
_base_ = ['../_base_/ablation_pspnet_r18_d8_cityscapes.py']
model = dict(losses=dict(pf={{_base_.pf}}, tl={{_base_.tl}}))
