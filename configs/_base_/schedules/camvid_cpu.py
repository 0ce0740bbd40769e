# Short CPU schedule for the CamVid study (SGD 0.01, poly 0.9, as B.2).
_base_ = ['./sgd_poly.py']
max_iters = 600
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                        end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=200, max_keep_ckpts=1))
