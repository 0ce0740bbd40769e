# The CamVid-like synthetic video's baseline (CE only on the labelled frames)
# with the narrow MobileNetV2-D8 PSPNet student of the CPU study (widen
# factor 0.5, the tiny student's PSP head): the anti-aliasing study's second
# architecture on the synthetic video.
_base_ = ['./pspnet_tiny_baseline_video_synthetic.py',
          '../_base_/models/mobilenetv2_narrow_student.py']
model = dict(student={{_base_.mobilenetv2_narrow}})
