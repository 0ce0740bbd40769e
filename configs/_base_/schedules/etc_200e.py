# Appendix B.2: SGD, lr 0.01, poly 0.9, 200 epochs of 8-triplet batches
# (Cityscapes: 2975 labelled frames -> 74,400 iterations).
_base_ = ['./sgd_poly.py']
max_iters = 74400
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=8000)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=8000, max_keep_ckpts=3))
