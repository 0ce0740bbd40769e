# The tiny PSPNet student (base width 16) for CamVid at 176x224 crops.
_base_ = ['./pspnet_tiny_student.py']
model = dict(
    data_preprocessor=dict(size=(176, 224)),
    student=dict(decode_head=dict(num_classes=11)))
