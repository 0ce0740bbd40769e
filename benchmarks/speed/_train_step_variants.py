"""The training-step benchmark's variants (``train_step.py``): each scheme's
synthetic config with its flow source swapped (a DIS cache in the data, DIS
or FlowNet2 inside the model), built with its dataset, model, optimiser and
one fixed batch, and timed around the flow's share of the work."""
import copy
import os.path as osp
import random
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(
    a=osp.join(ROOT, 'configs/synthetic/pspnet_tiny_baseline_video_synthetic.py'),
    e=osp.join(ROOT, 'configs/synthetic/pspnet_tiny_tl_synthetic.py'),
    j=osp.join(ROOT, 'configs/synthetic/pspnet_tiny_etc_synthetic.py'))
TEACHER_CFG = osp.join(ROOT, 'configs/synthetic/pspnet_small_teacher_tl_synthetic.py')
FLOWS = dict(dis=dict(type='DISFlow', preset='fast'), fn2=dict(type='FlowNet2'))
CACHE_ESTIMATOR = dict(type='DISFlow', preset='fast')


def setup_registries():
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    import mmseg_temporal  # noqa: F401


def paths_under(root):
    return dict(data_root=osp.join(root, 'synthetic_video'),
                cache_dir=osp.join(root, 'flow_cache_dis_fast'),
                teacher_ckpt=osp.join(root, 'teacher_random.pth'))


def variant_cfg(variant: str, root: str):
    """The MMEngine config of a variant, data_root/flow/teacher set."""
    from mmengine.config import Config
    scheme, _, flow = variant.partition('-')
    flow = flow or None
    paths = paths_under(root)
    cfg = Config.fromfile(CONFIGS[scheme])
    ds = cfg.train_dataloader.dataset
    ds.data_root = paths['data_root']
    pipeline = []
    for step in ds.pipeline:
        if step['type'] == 'LoadSyntheticFlow':
            if flow == 'cache':
                pipeline.append(dict(type='LoadPrecomputedFlow',
                                     cache_dir=paths['cache_dir'],
                                     data_root=paths['data_root']))
            continue  # online flow: the segmentor must compute it
        pipeline.append(step)
    ds.pipeline = pipeline
    if flow in FLOWS:
        cfg.model.flow = FLOWS[flow]
    if scheme == 'j':
        cfg.model.teacher.config = TEACHER_CFG
        cfg.model.teacher.checkpoint = paths['teacher_ckpt']
    return cfg, scheme, flow


def seed_all(s):
    import numpy as np
    import torch
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


class Variant:
    """Dataset, model, optimiser and fixed batch of one variant, with
    timers around LoadPrecomputedFlow (data) and the flow net (model)."""

    def __init__(self, name: str, root: str, copies: int) -> None:
        import torch
        from mmengine.dataset import pseudo_collate
        from mmengine.optim import OptimWrapper
        from mmseg.registry import DATASETS, MODELS

        from mmseg_temporal.engine.hooks.conv_lstm_clip_hook import ConvLSTMWeightClipHook
        self.name = name
        self.collate = pseudo_collate
        cfg, self.scheme, self.flow = variant_cfg(name, root)
        self.dataset = DATASETS.build(cfg.train_dataloader.dataset)
        self.bs = cfg.train_dataloader.batch_size
        self.spent = dict(flow_read=0.0, flow_net=0.0)
        for t in self.dataset.pipeline.transforms:
            if type(t).__name__ == 'LoadPrecomputedFlow':
                t.transform = self._timed(t.transform, 'flow_read')
        seed_all(0)
        self.model = MODELS.build(cfg.model)
        self.model.init_weights()
        self.model.train()
        if self.model.flow is not None:
            self.model.flow.forward = self._timed(self.model.flow.forward,
                                                  'flow_net')
        seed_all(0)  # the same samples and draws for every variant
        batch = pseudo_collate([self.dataset[i] for i in range(self.bs)])
        self.batches = [copy.deepcopy(batch) for _ in range(copies)]
        self.inputs = list(self.model.data_preprocessor(
            copy.deepcopy(batch), True)['inputs'].shape)
        opt = cfg.optim_wrapper.optimizer
        self.optim_wrapper = OptimWrapper(torch.optim.SGD(
            self.model.parameters(), lr=opt.lr, momentum=opt.momentum,
            weight_decay=opt.weight_decay))
        # j: the ConvLSTM clip that follows every iteration (custom_hooks)
        self.clip = (ConvLSTMWeightClipHook()
                     if any(h.get('type') == 'ConvLSTMWeightClipHook'
                            for h in cfg.get('custom_hooks', [])) else None)
        self.params = sum(p.numel() for p in self.model.parameters()
                          if p.requires_grad)
        self.n_data = 0

    def _timed(self, fn, key):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            out = fn(*a, **kw)
            self.spent[key] += time.perf_counter() - t0
            return out
        return wrapper

    def load_batch(self):
        """(seconds, of which LoadPrecomputedFlow) of ``dataset[i]`` x batch
        size + collate, the next samples in order."""
        n = len(self.dataset)
        self.spent['flow_read'] = 0.0
        t0 = time.perf_counter()
        self.collate([self.dataset[(self.n_data + i) % n]
                      for i in range(self.bs)])
        dt = time.perf_counter() - t0
        self.n_data += self.bs
        return dt, self.spent['flow_read']

    def step(self, k):
        """(seconds, of which flow net) of one training iteration."""
        self.spent['flow_net'] = 0.0
        t0 = time.perf_counter()
        log_vars = self.model.train_step(self.batches[k], self.optim_wrapper)
        if self.clip is not None:
            self.clip.clip(self.model)
        dt = time.perf_counter() - t0
        self.log_vars = {k_: float(v) for k_, v in log_vars.items()}
        return dt, self.spent['flow_net']
