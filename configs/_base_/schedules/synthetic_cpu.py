# A short iteration-based CPU schedule for the synthetic video.
_base_ = ['./sgd_poly.py']
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=600,
         by_epoch=False)
]
train_cfg = dict(max_iters=600, val_interval=200)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=200, max_keep_ckpts=2))
