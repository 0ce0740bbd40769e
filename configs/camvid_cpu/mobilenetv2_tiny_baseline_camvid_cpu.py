# CPU study, scheme a with a narrow MobileNetV2-D8 PSPNet student (widen
# factor 0.5, the tiny student's PSP head): CE on the labelled frames only.
# The anti-aliasing study's second architecture, beside the tiny ResNet-18.
_base_ = ['./pspnet_tiny_baseline_camvid_cpu.py',
          '../_base_/models/mobilenetv2_narrow_student.py']
model = dict(student={{_base_.mobilenetv2_narrow}})
