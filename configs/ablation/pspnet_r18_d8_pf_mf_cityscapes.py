# Table 1, scheme f: PF + MF.
_base_ = ['../_base_/ablation_pspnet_r18_d8_cityscapes.py']
model = dict(losses=dict(pf={{_base_.pf}}, mf={{_base_.mf}}))
custom_hooks = {{_base_.mf_hooks}}
