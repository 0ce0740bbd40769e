# The narrow MobileNetV2-D8 PSPNet student of the CPU studies (widen factor
# 0.5, the tiny student's PSP head): the anti-aliasing study's second
# architecture, on CamVid and on the synthetic video.
#   model = dict(student={{_base_.mobilenetv2_narrow}})
mobilenetv2_narrow = dict(
    backbone=dict(
        _delete_=True, type='MobileNetV2', widen_factor=0.5,
        strides=(1, 2, 2, 1, 1, 1, 1), dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6), norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(in_channels=160, in_index=3))
