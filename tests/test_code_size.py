"""Small modules and short functions in the package (the project's guide:
modules under ~350 lines, functions on the train/eval/demo paths under ~60),
measured with ``ast``."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'mmseg_temporal'
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60

# Functions allowed to be longer, each with its reason ("module:qualname").
# Keep it short: nothing on the training, evaluation or demo paths.
LONG_FUNCTIONS_ALLOWED = {}


def modules():
    return sorted(PACKAGE.rglob('*.py'))


def length(node: ast.AST) -> int:
    """Lines from ``def`` to the function's last line, its docstring and
    decorators not counted (a long docstring is not a long function)."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def functions(tree: ast.AST, prefix: str = ''):
    """(qualified name, :func:`length`) of every function and method,
    nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + node.name
            yield name, length(node)
            yield from functions(node, name + '.')
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, prefix + node.name + '.')
        else:
            yield from functions(node, prefix)


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def test_modules_are_small():
    too_long = {rel(p): n for p in modules()
                if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not too_long, f'modules over {MAX_MODULE_LINES} lines: {too_long}'


def test_functions_are_short():
    too_long = {}
    for path in modules():
        for name, lines in functions(ast.parse(path.read_text())):
            key = f'{rel(path)}:{name}'
            if lines > MAX_FUNCTION_LINES and key not in LONG_FUNCTIONS_ALLOWED:
                too_long[key] = lines
    assert not too_long, f'functions over {MAX_FUNCTION_LINES} lines: {too_long}'


def test_the_measure_counts_what_it_should():
    tree = ast.parse('class A:\n    def f(self):\n        def g():\n'
                     '            pass\n        return g\n\n\n@dec\n'
                     'def h(\n    x,\n):\n    \"\"\"Doc\n    string.\"\"\"\n'
                     '    return x\n')
    assert dict(functions(tree)) == {'A.f': 4, 'A.f.g': 2, 'h': 4}
    assert not set(LONG_FUNCTIONS_ALLOWED) - {
        f'{rel(p)}:{name}' for p in modules()
        for name, _ in functions(ast.parse(p.read_text()))}, \
        'an allowed long function no longer exists: drop it from the list'
