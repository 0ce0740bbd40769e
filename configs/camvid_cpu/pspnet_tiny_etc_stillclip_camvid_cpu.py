# CPU study (issue 23): ETC on clips made of single labelled frames (the
# still-clip TL config: StillToClip, exact flow, TL as symmetric KL weight 1)
# plus SF + PF + MF from the CPU teacher (base width 32). The teacher's
# weights: --cfg-options model.teacher.checkpoint=PATH (the studies set it;
# benchmarks/studies/stillclip_tl_study.py --teacher).
_base_ = ['./pspnet_tiny_tl_stillclip_camvid_cpu.py']
model = dict(
    teacher=dict(config='configs/camvid_cpu/pspnet_small_teacher_tl_camvid_cpu.py',
                 checkpoint='work_dirs/camvid_study/teacher/iter_300.pth'),
    losses=dict(sf_pixel={{_base_.sf_pixel}}, sf_pair={{_base_.sf_pair}},
                pf={{_base_.pf}}, mf={{_base_.mf_small}}))
custom_hooks = {{_base_.mf_hooks}}
