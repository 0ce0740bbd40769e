# The clean synthetic video (no nuisance: distinct class colours, no small
# objects, no noise), the default of the first studies (docs/results.md,
# section 1), in its own data folder. Inherit it after synthetic_video.py.
_base_ = ['./synthetic_video.py']
clean = dict(nuisance=None, data_root='data/synthetic_video')
train_dataloader = dict(dataset=clean)
val_dataloader = dict(dataset=clean)
test_dataloader = dict(dataset=clean)
