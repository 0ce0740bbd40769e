# Table 1, scheme i: SF + PF + MF.
_base_ = ['../_base_/ablation_pspnet_r18_d8_cityscapes.py']
model = dict(losses=dict(sf_pixel={{_base_.sf_pixel}}, sf_pair={{_base_.sf_pair}},
                         pf={{_base_.pf}}, mf={{_base_.mf}}))
custom_hooks = {{_base_.mf_hooks}}
