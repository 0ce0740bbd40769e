# Student MobileNetV2-D8 + PSPHead (MMSeg's pspnet_m-v2-d8).
_base_ = ['./etc_segmentor.py']
model = dict(student=dict(
    type='EncoderDecoder',
    backbone=dict(
        type='MobileNetV2', widen_factor=1., strides=(1, 2, 2, 1, 1, 1, 1),
        dilations=(1, 1, 1, 2, 2, 4, 4), out_indices=(1, 2, 4, 6),
        norm_cfg={{_base_.norm_cfg}}),
    decode_head=dict(
        type='PSPHead', in_channels=320, in_index=3, channels=128,
        pool_scales=(1, 2, 3, 6), dropout_ratio=0.1, num_classes=19,
        norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead', in_channels=96, in_index=2, channels=64, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=19,
        norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole')))
