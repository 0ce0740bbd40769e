# CamVid ETC (+ALL): MobileNetV2-D8 PSPNet distilled from the CamVid teacher.
_base_ = ['./mobilenetv2_d8_pspnet_tl_camvid.py']
teacher_checkpoint = 'work_dirs/pspnet_r101_d8_teacher_tl_camvid/iter_9200.pth'
model = dict(
    teacher=dict(config='configs/camvid/pspnet_r101_d8_teacher_tl_camvid.py',
                 checkpoint=teacher_checkpoint),
    losses=dict(sf_pixel={{_base_.sf_pixel}}, sf_pair={{_base_.sf_pair}},
                pf={{_base_.pf}}, mf={{_base_.mf}}))
custom_hooks = {{_base_.mf_hooks}}
