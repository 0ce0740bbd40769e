"""The paired study's pieces (benchmarks/studies/: paired_study.py,
_synthetic_report.py, the harness) and the fine-tune resume of experiments.steps."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks' / 'studies'))
import paired_study  # noqa: E402

# what a synthetic two-arm study pairs (a literal: the studies' constant must match it)
SYNTHETIC_PAIRED = {'mTC', 'mTC_shared', 'mTC_pred', 'mIoU', 'mVC_8', 'mTC_gt'}

# the figures of one scored run, as a study's score files hold them
FAKE_SCORES = dict(mIoU_15hz=30., mTC=40., mTC_gt=88.9, mTC_pred=80., mVC_8=90.,
                   mVC_16=89., mIoU_test=28., tc_per_class=[50.] * 11,
                   predicted=[0, 1], classes=list(range(11)))


def fake_recorded_study(study, monkeypatch, logs, recorded: dict, shifted_arm: str) -> list:
    """``logs/results.json`` recording ``recorded``; the study's ``train``
    replaced by a recorder (the returned list of trained run names) and its
    ``score_run`` by one writing FAKE_SCORES, mTC + 3 for ``shifted_arm``."""
    import json

    from mmseg_temporal.experiments.records import write_json
    logs.mkdir()
    (logs / 'results.json').write_text(json.dumps(dict(scores=recorded, paired={})))
    trained = []

    def fake_train(cfg, name, args):
        trained.append(name)
        return 'ckpt.pth'

    def fake_score_run(run_dir, ckpt, args, with_ema=False):
        shift = 3. if run_dir.endswith(shifted_arm) else 0.
        for ema in [None] + (list(args.ema) if with_ema else []):
            write_json(study.score_path(run_dir, ema), dict(FAKE_SCORES, mTC=40. + shift))

    monkeypatch.setattr(study, 'train', fake_train)
    monkeypatch.setattr(study, 'score_run', fake_score_run)
    return trained


def check_arms_compute_what_their_labels_say(arms, num_classes):
    """Each TL arm's loss, built from its config, on two random logit maps
    of identical frames (zero flow, occlusion weight 1): the control 0, the
    release's 0.1 x MSE over pixels and classes, x10 of it, and the paper's
    Eq. 1 (squared probability distance summed over classes) x 0.1."""
    import torch
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    z_t, z_tk = torch.randn(2, num_classes, 6, 8), torch.randn(2, num_classes, 6, 8)
    flow, img = torch.zeros(2, 2, 6, 8), torch.rand(2, 3, 6, 8) * 255

    def tl(arm):
        return float(MODELS.build(arms[arm]['tl'])(z_t, z_tk, flow, img, img))
    mse = float((z_t - z_tk).square().mean())
    prob = float((z_t.softmax(1) - z_tk.softmax(1)).square().sum(1).mean())
    assert tl('control') == 0.0
    assert tl('tl_logits') == pytest.approx(0.1 * mse, rel=1e-5)
    assert tl('tl_logits_x10') == pytest.approx(mse, rel=1e-5)
    assert tl('tl_prob') == pytest.approx(0.1 * prob, rel=1e-5)
    # the control is the release arm with the weight set to 0, nothing else
    assert dict(arms['control']['tl'], loss_weight=None) == \
        dict(arms['tl_logits']['tl'], loss_weight=None)


def test_paired_study_arms_compute_what_their_labels_say():
    check_arms_compute_what_their_labels_say(paired_study.ARMS, 5)


def test_arm_config_fine_tunes_from_the_baseline(tmp_path):
    args = paired_study.parse_args(['--work-dir', str(tmp_path),
                                    '--finetune-iters', '7'])
    cfg = paired_study.arm_cfg('control', 3, args, '/b/iter_2000.pth')
    assert cfg.load_from == '/b/iter_2000.pth'
    assert cfg.randomness == dict(seed=3)
    assert cfg.train_cfg.max_iters == 7
    assert cfg.train_dataloader.dataset.sample_mode == 'triplet'
    assert cfg.model.losses == dict(paired_study.ARMS['control'])
    assert cfg.test_dataloader.dataset.data_root == str(tmp_path / 'data')
    assert cfg.work_dir == str(tmp_path / 'seed3' / 'control')


def test_resumed_fine_tune_does_not_resume_from_load_from(tmp_path, monkeypatch):
    from mmengine.config import Config

    from mmseg_temporal.experiments import steps
    seen = {}

    class FakeRunner:
        @staticmethod
        def from_cfg(cfg):
            seen.update(resume=cfg.resume, load_from=cfg.load_from)
            return FakeRunner()

        def train(self):
            pass

    monkeypatch.setattr(steps, 'CheckedLoadRunner', FakeRunner)
    cfg = Config(dict(work_dir=str(tmp_path), load_from='/b/iter_2000.pth',
                      train_cfg=dict(max_iters=300)))
    steps.train_unless_done(cfg)
    assert seen == dict(resume=False, load_from='/b/iter_2000.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_100.pth'))
    steps.train_unless_done(cfg)
    assert seen == dict(resume=True, load_from=None)


def test_paired_study_scores_every_model_through_the_stock_test_loop(tmp_path):
    """A toy run (2-iteration baseline and fine-tunes, one test video): the
    baseline, its EMA and train-split variants and every arm are scored by
    the synthetic config's own test loop with the run's student, and the
    report has every figure, the exact flow's ceiling (100) and paired rows."""
    import json
    paired_study.main(['--work-dir', str(tmp_path), '--seeds', '0', '1',
                       '--arms', 'control', 'tl_logits', '--baseline-iters', '2',
                       '--baseline-val-every', '2', '--finetune-iters', '2',
                       '--ckpt-every', '2', '--test-videos', '1', '--train-videos', '1',
                       '--val-videos', '1', '--ema', '0.5', '--mcema', '0.5',
                       '--mcema-flow', 'exact', '--workers', '0',
                       '--logs-to', str(tmp_path / 'logs')])
    res = json.loads((tmp_path / 'logs' / 'results.json').read_text())
    assert {'baseline', 'baseline+ema0.5', 'baseline+mcema0.5-exact',
            'baseline (train split)', 'control/seed0',
            'control+ema0.5/seed1', 'tl_logits/seed1'} <= set(res['models'])
    for name, m in res['models'].items():
        assert m['mTC_gt'] == 100.0, name
        assert 0 <= m['mIoU_fast'] <= 100 and 0 <= m['mTC'] <= m['mTC_gt'], name
    assert set(res['paired']) == {'tl_logits', 'control+ema0.5', 'control+mcema0.5-exact',
                                  'control+mcema0.5-exact vs control+ema0.5'}
    assert res['paired']['tl_logits']['mTC_shared']['n'] == 2
    run = json.loads((tmp_path / 'seed0' / 'control' / 'score.json').read_text())
    assert run['fast_frames'] >= 5 and run['fast_threshold'] > 0  # of 20 frames
    text = (tmp_path / 'logs' / 'results.md').read_text()
    assert '| control (TL weight 0, triplets) | 2 |' in text


def test_camvid_study_configs(tmp_path):
    import camvid_study
    check_arms_compute_what_their_labels_say(camvid_study.ARMS, 11)
    args = camvid_study.parse_args(['--work-dir', str(tmp_path), '--data-root', 'cv'])
    cfg = camvid_study.camvid_cfg('pspnet_tiny_tl_camvid_cpu.py', str(tmp_path / 'r'),
                                  args, 2, 300)
    steps = [s for s in cfg.train_dataloader.dataset.pipeline
             if s['type'] == 'LoadPrecomputedFlow']
    assert steps and steps[0]['cache_dir'] == str(tmp_path / 'flow_cache')
    assert cfg.randomness == dict(seed=2) and cfg.train_cfg.max_iters == 300
    test = camvid_study.camvid_cfg('camvid_cpu_15hz_test.py', str(tmp_path / 'r'), args, 0, 1)
    assert test.test_dataloader.dataset.data_prefix.img_path == 'val'


def test_camvid_study_fb_arm_differs_from_control_only_in_flow_mask(tmp_path):
    import camvid_study

    from mmseg_temporal.datasets.transforms import LoadFlow
    from mmseg_temporal.flow.sources.forward_backward import ForwardBackwardChecked
    from mmseg_temporal.flow.sources.precomputed import PrecomputedFlow
    args = camvid_study.parse_args(['--work-dir', str(tmp_path), '--data-root', 'cv'])
    control = camvid_study.arm_cfg('control', 1, args, 'base.pth')
    fb = camvid_study.arm_cfg('tl_logits_x10_fb', 1, args, 'base.pth')
    plain = camvid_study.arm_cfg('tl_logits_x10', 1, args, 'base.pth')
    assert fb.model.losses == plain.model.losses != control.model.losses
    assert fb.load_from == control.load_from == 'base.pth'
    assert fb.randomness == control.randomness == dict(seed=1)
    p_fb, p_ctrl = fb.train_dataloader.dataset.pipeline, control.train_dataloader.dataset.pipeline
    diff = [i for i, (a, b) in enumerate(zip(p_fb, p_ctrl)) if a != b]
    assert len(p_fb) == len(p_ctrl) and len(diff) == 1
    step = dict(p_fb[diff[0]])
    assert step['type'] == 'LoadFlow'
    transform = LoadFlow(source=step['source'])
    assert isinstance(transform.source, ForwardBackwardChecked)
    assert isinstance(transform.source.source, PrecomputedFlow)
    assert step['source']['source']['cache_dir'] == str(tmp_path / 'flow_cache')


def test_nuisance_options_reach_every_split_and_no_arms_is_baseline_only(tmp_path):
    args = paired_study.parse_args(['--work-dir', str(tmp_path), '--arms',
                                    '--nuisance', '{"noise_std": 4, "small_objects": [1, 2]}'])
    assert args.arms == []
    cfg = paired_study.study_cfg('pspnet_tiny_baseline_video_synthetic.py',
                                 str(tmp_path / 'b'), args, 0, 10, 5)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.nuisance == dict(noise_std=4, small_objects=[1, 2])


def test_camvid_report_only_reads_the_saved_scores(tmp_path):
    import json

    import camvid_study
    fake = dict(FAKE_SCORES)
    runs = {'baseline/score.json': 0, 'seed0/control/score.json': 0,
            'seed0/control/score_ema0.5.json': 2, 'seed0/tl_logits_x10/score.json': -1}
    for rel, shift in runs.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(json.dumps(dict(fake, mTC=40. + shift)))
    args = camvid_study.parse_args(['--work-dir', str(tmp_path), '--seeds', '0',
                                    '--arms', 'control', 'tl_logits_x10', '--ema', '0.5',
                                    '--logs-to', str(tmp_path / 'logs')])
    scores = camvid_study.saved_scores(args)
    assert set(scores) == {'baseline', 'control/seed0', 'control+ema0.5/seed0',
                           'tl_logits_x10/seed0'}
    camvid_study.report(scores, args)
    res = json.loads((tmp_path / 'logs' / 'results.json').read_text())
    assert res['paired']['tl_logits_x10']['mTC']['mean'] == pytest.approx(-1.)
    assert res['paired']['control+ema0.5']['mTC']['mean'] == pytest.approx(2.)
    per_class_row = '| control | ' + ' | '.join(['50.0'] * 11) + ' |'
    assert per_class_row in (tmp_path / 'logs' / 'results.md').read_text()


def test_antialias_synthetic_study_trains_scores_and_pairs(tmp_path):
    """Two seeds of both arms at toy length, scored by the config's own test
    loop: the exact flow's ceiling is 100 and the paired table has every
    figure."""
    import json

    import antialias_synthetic_study as study
    study.main(['--work-dir', str(tmp_path), '--seeds', '0', '1', '--iters', '2',
                '--test-videos', '1', '--ckpt-every', '2', '--workers', '0',
                '--logs-to', str(tmp_path / 'logs')])
    res = json.loads((tmp_path / 'logs' / 'results.json').read_text())
    assert set(res['scores']) == {'plain/seed0', 'antialiased/seed0',
                                  'plain/seed1', 'antialiased/seed1'}
    assert all(s['mTC_gt'] == 100.0 for s in res['scores'].values())
    assert set(res['paired']) == SYNTHETIC_PAIRED
    assert all(res['paired'][m]['n'] == 2 for m in SYNTHETIC_PAIRED)
    cfg = study.run_cfg('antialiased', 1, study.parse_args(['--work-dir', str(tmp_path)]))
    assert cfg.model.student.backbone.type == 'AntiAliasedResNetV1c'
    assert cfg.randomness.seed == 1
    mnv2 = study.parse_args(['--student', 'mobilenetv2'])
    assert mnv2.work_dir.endswith('aa_synthetic_mobilenetv2')
    assert mnv2.logs_to.endswith('synthetic/mobilenetv2')
    plain, aa = (study.run_cfg(arm, 0, mnv2).model.student for arm in ('plain', 'antialiased'))
    assert (plain.backbone.type, aa.backbone.type) == ('MobileNetV2', 'AntiAliasedMobileNetV2')
    plain.backbone.pop('type'), aa.backbone.pop('type')
    assert plain.to_dict() == aa.to_dict() and plain.decode_head.in_channels == 160


def test_stillclip_synthetic_study_fine_tunes_each_base_and_pairs(tmp_path):
    """Two seeds at toy length: each seed's anti-aliased base trains from
    scratch, both arms fine-tune from its checkpoint on still clips and
    differ only in TL's weight; every model is scored by the config's own
    test loop (exact flow: ceiling 100) and the paired table has every
    figure; a fresh clone reports the recorded scores without training."""
    import json

    import stillclip_synthetic_study as study
    common = ['--seeds', '0', '1', '--logs-to', str(tmp_path / 'logs')]
    study.main(['--work-dir', str(tmp_path / 'work'), '--base-iters', '2', '--iters', '2',
                '--test-videos', '1', '--ckpt-every', '2', '--workers', '0'] + common)
    res = json.loads((tmp_path / 'logs' / 'results.json').read_text())
    assert set(res['scores']) == {f'{run}/seed{s}' for run in study.RUNS for s in (0, 1)}
    assert all(v['mTC_gt'] == 100.0 for v in res['scores'].values())
    assert set(res['paired']) == SYNTHETIC_PAIRED
    assert all(res['paired'][m]['n'] == 2 for m in SYNTHETIC_PAIRED)
    args = study.parse_args(['--work-dir', str(tmp_path / 'work'), '--base-iters', '2',
                             '--iters', '2'] + common)
    control, tl = (study.arm_cfg(arm, 1, args) for arm in ('control', 'tl_kl1'))
    assert control.load_from == tl.load_from == str(
        tmp_path / 'work' / 'seed1' / 'base' / 'iter_2.pth')
    assert tl.model.student.backbone.type == 'AntiAliasedResNetV1c'
    assert [step['type'] for step in tl.train_dataloader.dataset.pipeline][2] == 'StillToClip'
    assert (control.model.losses.tl.loss_weight, tl.model.losses.tl.loss_weight) == (0.0, 1.0)
    assert control.randomness.seed == tl.randomness.seed == 1
    control.model.losses.tl.loss_weight = 1.0
    assert control.model.to_dict() == tl.model.to_dict()
    assert control.train_dataloader.to_dict() == tl.train_dataloader.to_dict()
    study.main(['--work-dir', str(tmp_path / 'clone'), '--report-only'] + common)
    again = json.loads((tmp_path / 'logs' / 'results.json').read_text())
    assert again['paired']['mTC'] == res['paired']['mTC']
    assert not (tmp_path / 'clone' / 'seed0' / 'base' / 'iter_2.pth').exists()


def test_bf16_finetune_study_pairs_the_precisions(tmp_path):
    """The two runs of a seed differ only in the optimiser wrapper; the
    report pairs bf16 with fp32 seed by seed."""
    import json

    import bf16_finetune_study as study
    args = study.parse_args(['--baseline', str(tmp_path / 'base.pth'), '--work-dir',
                             str(tmp_path), '--data-root', 'cv', '--seeds', '0', '1',
                             '--logs-to', str(tmp_path / 'logs')])
    fp32, bf16 = (study.run_cfg(p, 1, args) for p in study.PRECISIONS)
    assert bf16.optim_wrapper.type == 'CPUAutocastOptimWrapper'
    assert fp32.optim_wrapper.type == 'OptimWrapper'
    assert fp32.load_from == bf16.load_from == str(tmp_path / 'base.pth')
    assert fp32.randomness == bf16.randomness == dict(seed=1)
    fp32.optim_wrapper, bf16.optim_wrapper = None, None
    fp32.work_dir = bf16.work_dir = fp32.visualizer.name = bf16.visualizer.name = ''
    assert fp32.to_dict() == bf16.to_dict()
    for seed, (a, b) in enumerate([(30.0, 30.5), (31.0, 31.2)]):
        for prec, miou in (('fp32', a), ('bf16', b)):
            run = tmp_path / f'seed{seed}' / prec
            run.mkdir(parents=True)
            (run / 'score.json').write_text(json.dumps(dict(
                mIoU_15hz=miou, mIoU_test=miou, mTC=40.0 + seed, mTC_pred=80.0)))
            train_s = 100 if prec == 'fp32' else 70
            (run / 'provenance.json').write_text(json.dumps(dict(train_s=train_s)))
    paired = study.report(args)
    assert paired['mIoU_15hz']['diffs'] == pytest.approx([0.5, 0.2])
    assert paired['train_s']['mean'] == pytest.approx(-30)
    assert paired['mTC']['mean'] == 0.0


def test_stillclip_study_arms_differ_only_in_tl_weight(tmp_path):
    """Each arm fine-tunes the base run's own student (its backbone) from
    its checkpoint on still clips; control and TL differ in TL's weight only."""
    import stillclip_tl_study as study
    from mmengine.config import Config
    base = tmp_path / 'scratch' / 'seed1' / 'antialiased'
    base.mkdir(parents=True)
    trained = Config.fromfile(str(ROOT / 'configs' / 'camvid_cpu' /
                                  'pspnet_tiny_baseline_camvid_cpu.py'))
    trained.model.student.backbone.type = 'AntiAliasedResNetV1c'
    trained.dump(str(base / 'study_config.py'))
    (base / 'iter_1500.pth').write_bytes(b'')
    args = study.parse_args(['--from-dir', str(tmp_path / 'scratch'), '--work-dir',
                             str(tmp_path / 'w'), '--arms', 'control', 'tl_kl0.5'])
    control, tl = (study.arm_cfg(arm, 1, args) for arm in ('control', 'tl_kl0.5'))
    assert control.model.losses.tl.loss_weight == 0.0 and tl.model.losses.tl.loss_weight == 0.5
    assert control.model.losses.tl.compare == 'kl'
    assert control.model.student.backbone.type == 'AntiAliasedResNetV1c'
    assert control.load_from == str(base / 'iter_1500.pth')
    assert control.train_dataloader.dataset.pipeline[2]['type'] == 'StillToClip'
    strip = ('work_dir', 'visualizer')
    assert {k: v for k, v in control.to_dict().items() if k not in strip and k != 'model'} == \
        {k: v for k, v in tl.to_dict().items() if k not in strip and k != 'model'}
    with pytest.raises(FileNotFoundError, match='seed3'):
        study.arm_cfg('control', 3, args)
    with pytest.raises(ValueError, match='tl_mse'):
        study.tl_weight('tl_mse')


@pytest.mark.parametrize('student, backbone, width', [
    ('tiny', 'ResNetV1c', 16), ('small', 'ResNetV1c', 32), ('mobilenetv2', 'MobileNetV2', None)])
def test_antialias_study_arms_differ_only_in_the_backbone_type(tmp_path, student, backbone,
                                                               width):
    """Per student, plain and anti-aliased train the same config with the
    same seed; only the backbone's type differs (``small``: twice the width)."""
    import antialias_study as study
    args = study.parse_args(['--work-dir', str(tmp_path), '--student', student,
                             '--logs-to', str(tmp_path / 'logs'), '--precision', 'fp32'])
    plain, aa = (study.arm_cfg(arm, 2, args).to_dict() for arm in ('plain', 'antialiased'))
    assert plain['model']['student']['backbone']['type'] == backbone
    assert aa['model']['student']['backbone']['type'] == 'AntiAliased' + backbone
    assert plain['model']['student']['backbone'].get('base_channels') == width
    assert plain['randomness'] == aa['randomness'] and plain['randomness']['seed'] == 2
    for cfg in (plain, aa):
        cfg['model']['student']['backbone'].pop('type')
        cfg.pop('work_dir'), cfg.pop('visualizer')
    assert plain == aa


def test_antialias_study_blur5_arm_sets_only_the_blur_taps(tmp_path):
    import antialias_study as study
    args = study.parse_args(['--work-dir', str(tmp_path), '--logs-to', str(tmp_path / 'l'),
                             '--arms', 'plain', 'antialiased', 'antialiased_blur5'])
    aa, blur5 = (study.arm_cfg(arm, 0, args).model.student.backbone.to_dict()
                 for arm in ('antialiased', 'antialiased_blur5'))
    assert 'blur_size' not in aa and blur5.pop('blur_size') == 5
    assert aa == blur5
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmseg_temporal.models.backbones.antialiased import BlurSubsampledConv2d
    first_cfg = study.arm_cfg('antialiased_blur5_first', 0, args).model.student.backbone
    first = first_cfg.to_dict()
    assert first.pop('blur_first') is True and first.pop('blur_size') == 5
    assert first == aa
    init_default_scope('mmseg')
    built = MODELS.build(first_cfg)
    convs = [m for m in built.modules() if isinstance(m, BlurSubsampledConv2d)]
    assert convs and all(c.blur_first and c.blur_kernel.shape[-1] == 5 for c in convs)
    assert study.parse_args(['--work-dir', str(tmp_path), '--logs-to', str(tmp_path)]).arms == \
        ['plain', 'antialiased']


def test_antialias_report_pairs_each_arm_with_smoothed_plain_and_the_3_tap_arm(tmp_path):
    """Report-only over saved scores: every anti-aliased arm gets its rows
    against plain + EMA and the 5-tap arm one against the 3-tap arm, with
    the paired means of the saved figures."""
    import json

    import antialias_study as study
    fake = dict(FAKE_SCORES)
    mtc = {('plain', ''): 40., ('plain', '_ema0.5'): 44., ('plain', '_ema0.7'): 45.,
           ('antialiased', ''): 43., ('antialiased_blur5', ''): 44.5,
           ('antialiased_blur5', '_ema0.3'): 46., ('antialiased_blur5', '_mcema0.3'): 47.}
    for seed in (0, 1):
        for (arm, ema), value in mtc.items():
            path = tmp_path / 'scratch' / f'seed{seed}' / arm / f'score{ema}.json'
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(dict(fake, mTC=value + seed, mIoU=30.)))
    args = study.parse_args(['--work-dir', str(tmp_path), '--logs-to', str(tmp_path / 'l'),
                             '--seeds', '0', '1', '--arms', 'plain', 'antialiased',
                             'antialiased_blur5', '--ema', '0.3', '0.5', '0.7',
                             '--report-only'])
    study.report(study.saved_scores(args), args)
    rows = {ln.split(' | ')[0][2:]: ln for ln in
            (tmp_path / 'l' / 'results.md').read_text().splitlines() if ' - (' in ln}
    assert rows['antialiased_blur5 - (antialiased)'].split(' | ')[2].startswith('+1.50 ')
    assert rows['antialiased_blur5 - (plain+ema0.5)'].split(' | ')[2].startswith('+0.50 ')
    assert rows['antialiased_blur5+ema0.3 - (plain+ema0.5)'].split(' | ')[2].startswith('+2.00 ')
    assert 'antialiased - (antialiased)' not in rows
    assert 'antialiased - (plain+ema0.5)' in rows
    smoothing = {ln.split(' | ')[0][2:]: ln.split(' | ')[2] for ln in
                 (tmp_path / 'l' / 'results.md').read_text().splitlines() if '+mcema' in ln}
    assert smoothing['antialiased_blur5+mcema0.3 - plain+ema0.7'].startswith('+2.00 ')
    assert smoothing['antialiased_blur5+mcema0.3 - antialiased_blur5+ema0.3'].startswith('+1.00 ')
    assert smoothing['antialiased_blur5+mcema0.3 - antialiased_blur5'].startswith('+2.50 ')


def test_antialias_study_resumes_on_a_fresh_clone_from_its_committed_scores(
        tmp_path, monkeypatch):
    """A fresh clone has no work dir: the scores recorded in the logs'
    results.json are written back and their runs are not trained again;
    --report-only on another clone reports them instead of an empty table."""
    import json

    import antialias_study as study
    fake = dict(FAKE_SCORES)
    logs = tmp_path / 'logs'
    recorded = {'plain/seed0': fake, 'plain+ema0.5/seed0': dict(fake, mTC=42.),
                'antialiased/seed0': dict(fake, mTC=41.),
                'antialiased+ema0.5/seed0': dict(fake, mTC=43.)}
    trained = fake_recorded_study(study, monkeypatch, logs, recorded, 'antialiased')
    common = ['--seeds', '0', '1', '--ema', '0.5', '--logs-to', str(logs)]
    study.main(['--work-dir', str(tmp_path / 'work')] + common)
    assert trained == ['scratch_seed1_plain', 'scratch_seed1_antialiased']
    restored = tmp_path / 'work' / 'scratch' / 'seed0' / 'plain' / 'score_ema0.5.json'
    assert json.loads(restored.read_text())['mTC'] == 42.
    paired = json.loads((logs / 'paired.json').read_text())
    assert paired['antialiased']['mTC']['mean'] == pytest.approx(2.)  # (1 + 3) / 2
    assert paired['antialiased']['mTC']['n'] == 2
    study.main(['--work-dir', str(tmp_path / 'clone'), '--report-only'] + common)
    again = json.loads((logs / 'results.json').read_text())['scores']
    assert set(again) == set(recorded) | {'plain/seed1', 'plain+ema0.5/seed1',
                                          'antialiased/seed1', 'antialiased+ema0.5/seed1'}
    assert trained == ['scratch_seed1_plain', 'scratch_seed1_antialiased']


def test_blur_first_check_rescores_the_trained_students_in_the_other_form(tmp_path,
                                                                           monkeypatch):
    """Each seed's anti-aliased run is scored with ``blur_first=True`` and
    paired against its own saved score; a plain run is refused."""
    import json

    import blur_first_check as check
    from mmengine.config import Config
    seen = []

    def fake_figures(cfg, ckpt, sub_dir):
        seen.append((cfg.model.student.backbone.to_dict(), ckpt, sub_dir))
        return dict(mIoU=30.0 + len(seen), mTC=47.0 + len(seen), mTC_pred=80.0, mVC_8=90.0)
    monkeypatch.setattr(check, 'test_figures', fake_figures)
    trained = Config.fromfile(str(ROOT / 'configs' / 'camvid_cpu' /
                                  'pspnet_tiny_antialiased_baseline_camvid_cpu.py'))
    for seed in (0, 1):
        run = tmp_path / 'scratch' / f'seed{seed}' / 'antialiased'
        run.mkdir(parents=True)
        trained.dump(str(run / 'study_config.py'))
        (run / 'iter_1500.pth').write_bytes(b'')
        (run / 'score.json').write_text(json.dumps(
            dict(mIoU_15hz=30.0, mTC=47.0, mTC_pred=80.0, mVC_8=90.0)))
    logs = tmp_path / 'logs'
    check.main(['--work-dir', str(tmp_path), '--seeds', '0', '1', '--logs-to', str(logs)])
    assert [s[0]['type'] for s in seen] == ['AntiAliasedResNetV1c'] * 2
    assert all(s[0]['blur_first'] is True and s[2] == 'test_15hz_blurfirst' for s in seen)
    assert seen[1][1].endswith('seed1/antialiased/iter_1500.pth')
    paired = json.loads((logs / 'results.json').read_text())['paired']
    assert paired['mTC']['mean'] == pytest.approx(1.5) and paired['mIoU']['n'] == 2
    # cached: a second run scores nothing again
    check.main(['--work-dir', str(tmp_path), '--seeds', '0', '1', '--logs-to', str(logs)])
    assert len(seen) == 2
    (tmp_path / 'scratch' / 'seed1' / 'antialiased' / 'score_blurfirst.json').unlink()
    check.main(['--work-dir', str(tmp_path), '--seeds', '0', '1', '--logs-to', str(logs),
                '--report-only'])  # scores nothing: seed 1 is left out
    assert len(seen) == 2
    assert json.loads((logs / 'results.json').read_text())['paired'] == {}
    plain = tmp_path / 'scratch' / 'seed2' / 'antialiased'
    plain.mkdir(parents=True)
    Config.fromfile(str(ROOT / 'configs' / 'camvid_cpu' /
                        'pspnet_tiny_baseline_camvid_cpu.py')).dump(str(plain / 'study_config.py'))
    (plain / 'iter_1500.pth').write_bytes(b'')
    (plain / 'score.json').write_text('{"mIoU_15hz": 1}')
    with pytest.raises(ValueError, match='not anti-aliased'):
        check.main(['--work-dir', str(tmp_path), '--seeds', '2', '--logs-to', str(logs)])
    with pytest.raises(FileNotFoundError, match='seed3'):
        check.main(['--work-dir', str(tmp_path), '--seeds', '3', '--logs-to', str(logs)])


def test_stillclip_study_from_scratch_and_mixed(tmp_path):
    """``--from-scratch`` trains the --base student untrained for 1500
    iterations; ``--mix`` trains on real triplets, half replaced by still
    clips; the arms still differ only in TL's weight."""
    import stillclip_tl_study as study
    args = study.parse_args(['--from-scratch', '--work-dir', str(tmp_path), '--mix',
                             '--arms', 'control', 'tl_kl1'])
    assert args.iters == 1500 and args.from_dir is None
    control, tl = (study.arm_cfg(arm, 0, args) for arm in ('control', 'tl_kl1'))
    assert control.model.student.backbone.type == 'AntiAliasedResNetV1c'
    assert control.get('load_from') is None and control.train_cfg.max_iters == 1500
    steps = control.train_dataloader.dataset.pipeline
    assert [s['type'] for s in steps[:4]] == ['LoadVideoFrames', 'LoadVideoAnnotations',
                                             'LoadPrecomputedFlow', 'StillToClip']
    assert steps[3]['prob'] == 0.5 and steps[2]['cache_dir'] == str(tmp_path / 'flow_cache')
    assert (control.model.losses.tl.loss_weight, tl.model.losses.tl.loss_weight) == (0.0, 1.0)
    strip = ('work_dir', 'visualizer', 'model')
    assert {k: v for k, v in control.to_dict().items() if k not in strip} == \
        {k: v for k, v in tl.to_dict().items() if k not in strip}
    plain = study.parse_args(['--from-scratch', '--base', 'plain', '--iters', '20',
                              '--work-dir', str(tmp_path)])
    cfg = study.arm_cfg('control', 1, plain)
    assert cfg.model.student.backbone.type == 'ResNetV1c' and cfg.train_cfg.max_iters == 20
    assert cfg.train_dataloader.dataset.pipeline[2]['type'] == 'StillToClip'
    # ETC with still clips: the teacher's terms added, the clips the same
    teacher = tmp_path / 'teacher.pth'
    teacher.write_bytes(b'')
    etc_args = study.parse_args(['--from-scratch', '--work-dir', str(tmp_path), '--arms',
                                 'control', 'etc', '--teacher', str(teacher)])
    control, etc = (study.arm_cfg(arm, 0, etc_args) for arm in ('control', 'etc'))
    assert etc.model.teacher.checkpoint == str(teacher)
    assert sorted(etc.model.losses) == ['mf', 'pf', 'sf_pair', 'sf_pixel', 'tl']
    assert etc.model.losses.tl.loss_weight == 1.0 and control.model.losses.tl.loss_weight == 0
    assert etc.train_dataloader == control.train_dataloader
    for bad in ([], ['--teacher', str(tmp_path / 'missing.pth')],
                ['--teacher', str(teacher), '--mix']):
        with pytest.raises(SystemExit):
            study.parse_args(['--from-scratch', '--work-dir', str(tmp_path), '--arms',
                              'control', 'etc', *bad])
    with pytest.raises(SystemExit):  # a start point is needed, and only one
        study.parse_args(['--work-dir', str(tmp_path)])
    with pytest.raises(SystemExit):
        study.parse_args(['--from-scratch', '--from-dir', str(tmp_path)])


def test_stillclip_study_resumes_on_a_fresh_clone_from_its_committed_scores(
        tmp_path, monkeypatch):
    """Work dirs do not outlive a machine: the scores recorded in the logs'
    results.json are written back, their runs are neither trained nor
    scored again, the missing runs are; the report pairs both, and keeps
    the per-pair mTC_shared out of the recorded scores."""
    import json

    import stillclip_tl_study as study
    fake = dict(FAKE_SCORES)
    logs = tmp_path / 'logs'
    recorded = {'control/seed0': fake, 'control+ema0.5/seed0': dict(fake, mTC=42.),
                'tl_kl1/seed0': dict(fake, mTC=41.)}
    runs = fake_recorded_study(study, monkeypatch, logs, recorded, 'tl_kl1')
    work = tmp_path / 'work'
    study.main(['--from-scratch', '--work-dir', str(work), '--seeds', '0', '1',
                '--logs-to', str(logs)])
    assert runs == ['seed1_control', 'seed1_tl_kl1']
    assert json.loads((work / 'seed0' / 'control' / 'score_ema0.5.json').read_text())[
        'mTC'] == 42.
    res = json.loads((logs / 'results.json').read_text())
    assert res['paired']['tl_kl1']['mTC']['mean'] == pytest.approx(2.)  # (1 + 3) / 2
    assert res['paired']['tl_kl1']['mTC']['n'] == 2
    assert 'mTC_shared' not in res['scores']['control/seed0']
    assert 'mTC_shared' in res['paired']['tl_kl1']
    # --report-only on another fresh clone reports the recorded runs again
    study.main(['--from-scratch', '--work-dir', str(tmp_path / 'clone'), '--seeds', '0',
                '1', '--logs-to', str(logs), '--report-only'])
    again = json.loads((logs / 'results.json').read_text())
    assert again['paired']['tl_kl1'] == res['paired']['tl_kl1'] and runs == [
        'seed1_control', 'seed1_tl_kl1']


def test_stillclip_study_lanes_share_the_runs_seed_major(tmp_path, monkeypatch):
    """--lane K/N trains runs K, K+N, ... of the seed-major (seed, arm) list;
    a bad lane is refused."""
    import stillclip_tl_study as study
    trained = []
    monkeypatch.setattr(study, 'train', lambda cfg, name, args: trained.append(name))
    monkeypatch.setattr(study, 'score_run', lambda *a, **k: None)
    monkeypatch.setattr(study, 'report', lambda scores, args: None)
    common = ['--from-scratch', '--work-dir', str(tmp_path), '--seeds', '0', '1',
              '--logs-to', str(tmp_path / 'logs')]
    study.main(common + ['--lane', '1/2'])
    assert trained == ['seed0_tl_kl1', 'seed1_tl_kl1']
    trained.clear()
    study.main(common + ['--arms', 'control', 'tl_kl1', 'tl_kl2', '--lane', '0/2'])
    assert trained == ['seed0_control', 'seed0_tl_kl2', 'seed1_tl_kl1']
    for bad in ('2/2', '-1/2', '1', 'a/b'):
        with pytest.raises(SystemExit):
            study.parse_args(common + ['--lane', bad])


def test_restore_scores_writes_only_missing_files_and_refuses_bad_entries(tmp_path):
    import json

    from mmseg_temporal.experiments.records import restore_scores
    recorded = tmp_path / 'results.json'
    assert restore_scores([('a', str(tmp_path / 'a.json'))], str(recorded)) == []
    recorded.write_text(json.dumps(dict(scores={'a': {'mTC': 1.}, 'b': {'mTC': 2.},
                                                'bad': [1]})))
    (tmp_path / 'b.json').write_text(json.dumps({'mTC': 5.}))
    pairs = [('a', str(tmp_path / 'r' / 'a.json')), ('b', str(tmp_path / 'b.json')),
             ('c', str(tmp_path / 'c.json'))]
    assert restore_scores(pairs, str(recorded)) == [str(tmp_path / 'r' / 'a.json')]
    assert json.loads((tmp_path / 'r' / 'a.json').read_text()) == {'mTC': 1.}
    assert json.loads((tmp_path / 'b.json').read_text()) == {'mTC': 5.}  # kept
    assert not (tmp_path / 'c.json').exists()
    with pytest.raises(ValueError, match=r"results.json: scores\['bad'\]"):
        restore_scores([('bad', str(tmp_path / 'bad.json'))], str(recorded))
