"""The README's quick start and CI agree; the install script is sound."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / 'README.md').read_text()
    blocks = re.findall(r'```bash\n(.*?)```', text, flags=re.S)
    return [line.strip() for b in blocks for line in b.splitlines() if line.strip()]


def ci_commands():
    return [line.strip() for line in (ROOT / '.ci' / 'run').read_text().splitlines()
            if line.strip() and not line.startswith('#')]


def steps(command: str):
    return [step.strip() for step in command.split('&&')]


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    """CI runs the README's test command, with the lint inserted before the
    tests: install, ``ruff check .``, the README's pytest step."""
    quick = [c for c in readme_commands() if c.startswith('bash tools/install.sh')]
    assert len(quick) == 2, quick
    test_cmd = [c for c in quick if 'pytest' in c]
    assert len(test_cmd) == 1
    ci_cmds = [line for line in ci_commands() if 'pytest' in line]
    assert len(ci_cmds) == 1, 'CI must run the README test command once'
    readme_steps = steps(test_cmd[0])
    assert steps(ci_cmds[0]) == readme_steps[:-1] + ['ruff check .'] + readme_steps[-1:]


def test_lint_is_configured_and_no_wheel_is_committed():
    ruff = (ROOT / 'ruff.toml').read_text()
    select = re.search(r'^select = \[(.*)\]', ruff, re.M)
    assert select and {'E', 'F', 'W', 'I'} <= set(re.findall(r'"(\w+)"', select.group(1)))
    assert 'ruff check' in (ROOT / '.pre-commit-config.yaml').read_text()
    setup = (ROOT / 'setup.cfg').read_text()
    assert re.search(r'^tests =(\n +\S.*)*\n +ruff$', setup, re.M), \
        'ruff must be in the tests extra (CI runs it after install.sh)'
    tracked = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True,
                             text=True)
    if tracked.returncode != 0:
        pytest.skip('not a git checkout')
    wheels = [p for p in tracked.stdout.splitlines() if p.endswith('.whl')]
    assert not wheels, wheels


def test_install_script_is_valid_bash_and_fails_loudly():
    script = ROOT / 'tools' / 'install.sh'
    out = subprocess.run(['bash', '-n', str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = script.read_text()
    assert 'set -euo pipefail' in text and 'trap' in text
    for pin in ('mmengine==0.10.7', 'mmcv==2.1.0', 'mmsegmentation==1.2.2',
                'torch==2.13.0'):
        assert pin in text, pin


def test_getting_started_lists_every_registered_module():
    """docs/getting_started.md's registry table names exactly what
    `import mmseg_temporal` registers, each in its registry, and has a row
    for every MMSeg registry the plugin adds to; each class has one name
    in one registry (no aliases)."""
    from mmengine.registry import Registry
    from mmseg import registry

    import mmseg_temporal  # noqa: F401
    text = (ROOT / 'docs' / 'getting_started.md').read_text()
    rows = dict(re.findall(r'^\| `(\w+)` \| (.*) \|$', text, re.M))
    registries = {name: reg for name, reg in vars(registry).items()
                  if isinstance(reg, Registry)}
    classes = []
    for reg_name, reg in sorted(registries.items()):
        ours = {name for name, cls in reg.module_dict.items()
                if getattr(cls, '__module__', '').startswith('mmseg_temporal.')}
        listed = set(re.findall(r'`(\w+)`', rows.get(reg_name, '')))
        assert listed == ours, (reg_name, sorted(listed ^ ours))
        classes += [reg.module_dict[name] for name in ours]
    assert set(rows) <= set(registries), sorted(set(rows) - set(registries))
    twice = sorted({c.__name__ for c in classes if classes.count(c) > 1})
    assert not twice, f'registered under two names or in two registries: {twice}'


def test_benchmark_scripts_never_import_each_other():
    """benchmarks/speed/ and benchmarks/studies/ hold scripts; what they
    share lives in the package or in their folder's helper modules (the
    ``_``-prefixed ones: ``_common``, ``_harness``, ...), never in another
    script."""
    import ast
    bench = Path(__file__).resolve().parents[1] / 'benchmarks'
    assert not list(bench.glob('*.py')), 'scripts belong in speed/ or studies/'
    bad = []
    for folder in ('speed', 'studies'):
        scripts = {p.stem for p in (bench / folder).glob('*.py')
                   if not p.stem.startswith('_')}
        for path in (bench / folder).glob('*.py'):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ''] if isinstance(node, ast.ImportFrom) else []
                bad += [f'{folder}/{path.name} imports {n}' for n in names
                        if n.split('.')[0] in scripts]
    assert bad == []
