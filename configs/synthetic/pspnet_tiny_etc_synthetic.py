# Scheme j (ETC, all terms): the tiny student distilled from the synthetic
# teacher (pspnet_small_teacher_tl_synthetic.py) with SF + PF + MF + TL.
# Train the teacher first; its checkpoint path is set here and can be
# overridden: --cfg-options model.teacher.checkpoint=PATH
_base_ = [
    'mmseg::_base_/default_runtime.py',
    '../_base_/models/pspnet_tiny_student.py',
    '../_base_/datasets/synthetic_video.py',
    '../_base_/schedules/synthetic_cpu.py',
    '../_base_/etc_losses.py',
]
custom_imports = dict(imports=['mmseg_temporal'], allow_failed_imports=False)
teacher_config = 'configs/synthetic/pspnet_small_teacher_tl_synthetic.py'
teacher_checkpoint = 'work_dirs/pspnet_small_teacher_tl_synthetic/iter_600.pth'
model = dict(
    teacher=dict(config=teacher_config, checkpoint=teacher_checkpoint),
    losses=dict(tl={{_base_.tl_release_5cls}}, sf_pixel={{_base_.sf_pixel}},
                sf_pair={{_base_.sf_pair}}, pf={{_base_.pf}},
                mf={{_base_.mf_small}}))
custom_hooks = {{_base_.mf_hooks}}
