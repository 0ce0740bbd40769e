# Appendix B.2 schedule on CamVid: 367 training frames, 200 epochs of
# 8-triplet batches -> 9,200 iterations.
_base_ = ['./etc_200e.py']
max_iters = 9200
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                        end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000))
