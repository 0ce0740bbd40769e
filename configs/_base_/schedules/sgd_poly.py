# What every schedule shares (appendix B.2): SGD (lr 0.01, momentum 0.9,
# weight decay 5e-4), iteration-based loops and the default hooks, with
# FiniteCheckpointHook (rotation never deletes the last good checkpoint).
# A schedule inherits it and sets its length and intervals:
#   max_iters = 600
#   param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
#                           end=max_iters, by_epoch=False)]
#   train_cfg = dict(max_iters=max_iters, val_interval=200)
#   default_hooks = dict(logger=dict(interval=20),
#                        checkpoint=dict(interval=200, max_keep_ckpts=2))
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
train_cfg = dict(type='IterBasedTrainLoop')
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='FiniteCheckpointHook', by_epoch=False),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
