"""Which mnist_sgd modules a piece of code imports, by their dotted names inside the package ('training', 'quiz.graders',
'data' for data/__init__.py). Shared by the layout tests (test_lessons) and the dependency tests (test_packaging)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent/'mnist_sgd'


def module_name(py:Path) -> str:
    "A module file's name inside the package: 'training', 'quiz.graders', 'data' (for data/__init__.py)."
    parts = py.relative_to(PACKAGE).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def package_of(py:Path) -> str:
    "The dotted package that relative imports in `py` start from."
    name = module_name(py)
    return name if py.name == '__init__.py' else name.rpartition('.')[0]


def imported_modules(code:str, known, package:str='') -> set:
    """The modules among `known` that `code` imports (`import mnist_sgd.x`, `from mnist_sgd.x import ...`,
    `from mnist_sgd.quiz import graders`, and relative imports resolved from `package`): each the longest known name that
    the imported name is, or lies in. Code that is not Python (a cell with IPython magics) imports nothing here."""
    def longest(name):
        parts = name.split('.')
        return next(('.'.join(parts[:i]) for i in range(len(parts), 0, -1) if '.'.join(parts[:i]) in known), None)
    try: tree = ast.parse(code)
    except SyntaxError: return set()
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.') if package else []
                base = base[:len(base) - node.level + 1] if node.level > 1 else base
                head = '.'.join([*base, *([node.module] if node.module else [])])
            elif node.module == 'mnist_sgd' or (node.module or '').startswith('mnist_sgd.'): head = node.module[len('mnist_sgd.'):]
            else: continue
            names += [f'{head}.{a.name}' if head else a.name for a in node.names]  # a module, or a name in one
        elif isinstance(node, ast.Import):
            names += [a.name[len('mnist_sgd.'):] for a in node.names if a.name.startswith('mnist_sgd.')]
    return {m for m in map(longest, names) if m}
