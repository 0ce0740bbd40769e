# PSPNet-ResNet101-D8 (MMSeg's pspnet_r101-d8): the teacher architecture.
_base_ = ['./pspnet_r18_d8.py']
model = dict(student=dict(
    backbone=dict(depth=101),
    decode_head=dict(in_channels=2048, channels=512),
    auxiliary_head=dict(in_channels=1024, channels=256)))
