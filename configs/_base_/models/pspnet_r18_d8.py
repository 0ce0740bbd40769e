# Student PSPNet-ResNet18-D8 (the paper's PSPNet18; MMSeg's pspnet_r18-d8).
# ImageNet weights: set student.backbone.init_cfg to a local checkpoint.
_base_ = ['./etc_segmentor.py']
model = dict(student=dict(
    type='EncoderDecoder',
    backbone=dict(
        type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
        norm_cfg={{_base_.norm_cfg}}, norm_eval=False, style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='PSPHead', in_channels=512, in_index=3, channels=128,
        pool_scales=(1, 2, 3, 6), dropout_ratio=0.1, num_classes=19,
        norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead', in_channels=256, in_index=2, channels=64, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=19,
        norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole')))
