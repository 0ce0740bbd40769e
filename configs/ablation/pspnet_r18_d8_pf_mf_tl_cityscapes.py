# Table 1, scheme h: PF + MF + TL.
_base_ = ['../_base_/ablation_pspnet_r18_d8_cityscapes.py']
model = dict(losses=dict(pf={{_base_.pf}}, mf={{_base_.mf}}, tl={{_base_.tl}}))
custom_hooks = {{_base_.mf_hooks}}
