# Table 1, scheme d: MF (ConvLSTM over the clip).
_base_ = ['../_base_/ablation_pspnet_r18_d8_cityscapes.py']
model = dict(losses=dict(mf={{_base_.mf}}))
custom_hooks = {{_base_.mf_hooks}}
