# CPU study, scheme a with a narrow MobileNetV2-D8 PSPNet student (widen
# factor 0.5, the tiny student's PSP head): CE on the labelled frames only.
# The anti-aliasing study's second architecture, beside the tiny ResNet-18.
_base_ = ['./pspnet_tiny_baseline_camvid_cpu.py']
model = dict(student=dict(
    backbone=dict(
        _delete_=True, type='MobileNetV2', widen_factor=0.5,
        strides=(1, 2, 2, 1, 1, 1, 1), dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6), norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(in_channels=160, in_index=3)))
