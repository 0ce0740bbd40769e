# MobileNetV2-D8 PSPNet student for CamVid: 11 classes, 640 crops.
_base_ = ['./mobilenetv2_d8_pspnet.py']
model = dict(
    data_preprocessor=dict(size=(640, 640)),
    student=dict(decode_head=dict(num_classes=11),
                 auxiliary_head=dict(num_classes=11)))
