# Student HRNet-W18 + FCN head (MMSeg's fcn_hr18).
_base_ = ['./etc_segmentor.py']
model = dict(student=dict(
    type='EncoderDecoder',
    backbone=dict(
        type='HRNet', norm_cfg={{_base_.norm_cfg}}, norm_eval=False,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                        num_blocks=(4, ), num_channels=(64, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                        num_blocks=(4, 4), num_channels=(18, 36)),
            stage3=dict(num_modules=4, num_branches=3, block='BASIC',
                        num_blocks=(4, 4, 4), num_channels=(18, 36, 72)),
            stage4=dict(num_modules=3, num_branches=4, block='BASIC',
                        num_blocks=(4, 4, 4, 4),
                        num_channels=(18, 36, 72, 144)))),
    decode_head=dict(
        type='FCNHead', in_channels=[18, 36, 72, 144], in_index=(0, 1, 2, 3),
        channels=sum([18, 36, 72, 144]), input_transform='resize_concat',
        kernel_size=1, num_convs=1, concat_input=False, dropout_ratio=-1,
        num_classes=19, norm_cfg={{_base_.norm_cfg}}, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole')))
