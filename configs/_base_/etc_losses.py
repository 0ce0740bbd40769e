# The loss terms of the method (paper Eq. 1-6, appendix A), as used by the
# method configs: `model = dict(losses=dict(tl=tl, pf=pf, ...))`.
tl = dict(type='TemporalLoss')
sf_pixel = dict(type='PixelwiseKDLoss')
sf_pair = dict(type='PairwiseKDLoss')
pf = dict(type='PairwiseFrameLoss')
mf = dict(type='MultiFrameLoss')
# MF's ConvLSTM weights are clipped after every optimiser step.
mf_hooks = [dict(type='ConvLSTMWeightClipHook')]
