# CPU study, scheme j (+ALL): SF + PF + MF from the CPU teacher, + TL.
# The teacher's weights: where benchmarks/studies/camvid_study.py writes them
# (--work-dir work_dirs/camvid_study, its second stage: 300 iterations);
# another run: --cfg-options model.teacher.checkpoint=PATH
_base_ = ['./pspnet_tiny_tl_camvid_cpu.py']
teacher_checkpoint = 'work_dirs/camvid_study/teacher/iter_300.pth'
model = dict(
    teacher=dict(config='configs/camvid_cpu/pspnet_small_teacher_tl_camvid_cpu.py',
                 checkpoint=teacher_checkpoint),
    losses=dict(sf_pixel={{_base_.sf_pixel}}, sf_pair={{_base_.sf_pair}},
                pf={{_base_.pf}}, mf={{_base_.mf_small}}))
custom_hooks = {{_base_.mf_hooks}}
