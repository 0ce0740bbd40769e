"""The paired-difference statistics of the studies (mmseg_temporal/experiments/stats.py)
against a hand computation and scipy's t distribution."""
import math

import pytest

from mmseg_temporal.experiments import stats as study_stats


def test_t_quantile_matches_tables():
    # two-sided 95 % critical values of Student's t (printed tables)
    for dof, want in [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622),
                      (30, 2.0423)]:
        assert study_stats.t_quantile(0.975, dof) == pytest.approx(want, abs=1e-4)
    assert study_stats.t_quantile(0.025, 4) == pytest.approx(-2.7764, abs=1e-4)
    assert study_stats.t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-9)


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip('scipy.stats')
    for dof in (1, 3, 4, 5, 12, 100):
        for p in (0.6, 0.9, 0.975, 0.995):
            assert study_stats.t_quantile(p, dof) == pytest.approx(
                float(stats.t.ppf(p, dof)), rel=1e-8, abs=1e-8)


def test_paired_difference_by_hand():
    arm = [71.0, 68.5, 80.0, 75.0, 70.0]
    control = [70.0, 69.0, 78.0, 74.0, 70.5]
    d = study_stats.paired_difference(arm, control)
    # differences 1.0, -0.5, 2.0, 1.0, -0.5: mean 0.6
    diffs = [1.0, -0.5, 2.0, 1.0, -0.5]
    mean = 0.6
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 4)  # = 1.0840
    half = 2.7764451 * sd / math.sqrt(5)
    assert d['n'] == 5 and d['positive'] == 3
    assert d['diffs'] == pytest.approx(diffs)
    assert d['mean'] == pytest.approx(mean)
    assert d['sd'] == pytest.approx(sd)
    assert d['ci'][0] == pytest.approx(mean - half, abs=1e-6)
    assert d['ci'][1] == pytest.approx(mean + half, abs=1e-6)
    assert d['effect'] is False  # the interval contains 0
    assert study_stats.format_difference(d).endswith('3/5')


def test_paired_difference_claims_a_clear_effect():
    d = study_stats.paired_difference([5.1, 5.3, 4.9, 5.0], [1, 1, 1, 1])
    assert d['effect'] is True and d['ci'][0] > 0 and d['positive'] == 4
    assert study_stats.format_difference(d).endswith('*')
    neg = study_stats.paired_difference([0, 0, 0], [1.0, 1.2, 0.9])
    assert neg['effect'] is True and neg['ci'][1] < 0 and neg['positive'] == 0


def test_paired_difference_bad_input():
    with pytest.raises(ValueError, match='one per seed'):
        study_stats.paired_difference([1, 2], [1])
    one = study_stats.paired_difference([2.0], [1.0])
    assert one['n'] == 1 and math.isnan(one['ci'][0]) and not one['effect']
    with pytest.raises(ValueError, match='dof'):
        study_stats.t_quantile(0.9, 0)
