"""The package's layering (docs/architecture.md), checked on the source with
``ast``: utils at the bottom; flow and visualization above it; datasets and
models side by side, never importing each other; engine and evaluation
above them; then inference, deploy, demo and experiments."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / 'mmseg_temporal'

ORDER = ('utils', 'flow', 'visualization', 'datasets', 'models', 'engine',
         'evaluation', 'inference', 'deploy', 'demo', 'experiments')
# package -> the packages of mmseg_temporal it may import (the table of
# docs/architecture.md); everything else of ORDER is forbidden
ALLOWED = {
    'utils': (),
    'flow': ('utils',),
    'visualization': ('utils',),
    'datasets': ('utils', 'flow'),
    'models': ('utils', 'flow'),
    'engine': ('utils', 'models'),
    'evaluation': ('utils', 'flow', 'visualization'),
    'inference': ('utils', 'flow', 'visualization', 'models'),
    'deploy': ('utils', 'flow', 'visualization', 'models', 'inference'),
    'demo': ('utils', 'flow', 'visualization', 'evaluation', 'inference'),
    'experiments': ('utils', 'flow', 'visualization', 'datasets', 'models',
                    'engine', 'evaluation', 'inference', 'deploy'),
}
FORBIDDEN = {layer: tuple(p for p in ORDER if p != layer and p not in ok)
             for layer, ok in ALLOWED.items()}


def imported_modules(path: Path, pkg: Path = PKG):
    """``(line, absolute module name)`` of every import of a file, relative
    imports resolved against the file's package (``pkg`` is the folder of
    the top package)."""
    # a/b/c.py and a/b/__init__.py are both resolved against package a.b
    package = list(path.relative_to(pkg.parent).parts[:-1])
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ''
            yield node.lineno, mod
            for alias in node.names:  # `from .. import models`
                yield node.lineno, f'{mod}.{alias.name}'


def violations(layer: str, pkg: Path = PKG):
    bad = []
    for path in sorted((pkg / layer).rglob('*.py')):
        for line, mod in imported_modules(path, pkg):
            parts = mod.split('.')
            if parts[0] == 'mmseg_temporal' and len(parts) > 1 and \
                    parts[1] in FORBIDDEN[layer]:
                bad.append(f'{path.relative_to(pkg.parent)}:{line} imports '
                           f'{mod}')
    return bad


def test_resolver_sees_relative_and_absolute_imports(tmp_path):
    """The checker itself: both spellings of a forbidden import are found."""
    mods = dict(imported_modules(
        PKG / 'datasets' / 'transforms' / 'flow_loading.py'))
    assert any(m.startswith('mmseg_temporal.flow.sources')
               for m in mods.values())
    pkg = tmp_path / 'mmseg_temporal'
    (pkg / 'datasets' / 'transforms').mkdir(parents=True)
    (pkg / 'datasets' / 'a.py').write_text('import mmseg_temporal.models\n')
    (pkg / 'datasets' / 'transforms' / 'b.py').write_text(
        'from ...models.flow import x\nfrom ... import models\n'
        'from ..synthetic import y\nfrom ...flow_sources import z\n')
    found = violations('datasets', pkg)
    assert found == ['mmseg_temporal/datasets/a.py:1 imports '
                     'mmseg_temporal.models',
                     'mmseg_temporal/datasets/transforms/b.py:1 imports '
                     'mmseg_temporal.models.flow',
                     'mmseg_temporal/datasets/transforms/b.py:1 imports '
                     'mmseg_temporal.models.flow.x',
                     'mmseg_temporal/datasets/transforms/b.py:2 imports '
                     'mmseg_temporal.models']


@pytest.mark.parametrize('layer', sorted(FORBIDDEN))
def test_layer_imports_no_higher_or_sibling_layer(layer):
    assert violations(layer) == []


def test_every_package_has_a_row():
    """A new top-level package must be placed in the table."""
    packages = {p.name for p in PKG.iterdir()
                if p.is_dir() and (p / '__init__.py').exists()}
    assert packages == set(ORDER)
