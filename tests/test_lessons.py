"""The lessons read as lessons: the idea comes first, arrows between modules point one way, harness cells are hidden,
every lesson ends the same way, and no lesson bakes in one data set's sizes."""
import json, re
from functools import lru_cache
from pathlib import Path
import pytest
from mnist_sgd.course.lessons import COLAB_MARK, colab_cell_source
from modgraph import imported_modules, module_name, package_of

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb'))
LESSON_IDS = [p.stem for p in LESSONS]


def _cells(nb:Path) -> list[dict]: return json.loads(nb.read_text(encoding='utf-8'))['cells']
def _src(c:dict) -> str: return ''.join(c['source'])
def _lesson_no(nb:Path) -> int: return int(nb.name.split('_')[0])


@lru_cache(None)
def _module_files() -> dict:
    "Each generated module of mnist_sgd (by its name inside the package), mapped to its file and its notebook."
    out = {}
    for py in (ROOT/'mnist_sgd').rglob('*.py'):
        m = re.search(r'File to edit: (?:\.\./)+(nbs/\S+?\.ipynb)', py.read_text(encoding='utf-8'))
        if m: out[module_name(py)] = (py, ROOT/m[1])
    return out


def _module_notebook() -> dict: return {k: nb for k, (_, nb) in _module_files().items()}


def _imported_modules(code:str, package:str='') -> set[str]:
    "The generated mnist_sgd modules that `code` imports (relative imports resolved from `package`)."
    return imported_modules(code, _module_files(), package)


def _code_of_notebook(nb:Path) -> str:
    return '\n'.join(re.sub(r'^\s*[!%].*$', '', _src(c), flags=re.M) for c in _cells(nb) if c['cell_type'] == 'code')


@lru_cache(None)
def _rank(module:str) -> int:
    """The latest lesson a module depends on: its own lesson number for a lesson's module, and for a library module the
    highest rank among the modules it imports (0 when it imports no lesson's module)."""
    if module not in _module_files(): return 0  # all.py, _modidx.py: not imported by lessons
    py, nb = _module_files()[module]
    own = _lesson_no(nb) if nb.parent == ROOT/'nbs' and re.match(r'\d\d_', nb.name) else 0
    deps = [_rank(m) for m in _imported_modules(py.read_text(encoding='utf-8'), package_of(py)) if m != module and m != 'all']
    return max([own, *deps])


CHAPTER = ['images', 'baseline', 'sgd', 'training', 'optim', 'nonlinear', 'multiclass', 'learner']


def test_there_are_lessons_and_library_notebooks_apart():
    assert len(LESSONS) >= 9, LESSON_IDS
    lib = sorted((ROOT/'nbs'/'lib').rglob('*.ipynb'))
    assert {'core', 'checks', 'data', 'report', 'cli'} <= {p.stem for p in lib}
    # No library machinery is numbered like a lesson.
    assert not any(re.match(r'\d', p.name) for p in lib)


def test_the_package_shows_the_chapter_apart_from_the_machinery():
    "The chapter's modules sit at the top, each exported from its lesson; the machinery lives in subpackages."
    top = sorted(p.stem for p in (ROOT/'mnist_sgd').glob('*.py') if p.stem not in ('__init__', '_modidx', 'all'))
    assert set(CHAPTER) <= set(top) and len(top) <= 12, top
    nbs = _module_notebook()
    assert [nbs[m].parent for m in CHAPTER] == [ROOT/'nbs'] * len(CHAPTER)   # each from a lesson notebook
    assert all(nbs[m].parent != ROOT/'nbs' for m in top if m not in CHAPTER)  # the rest from library notebooks
    subs = {p.parent.name for p in (ROOT/'mnist_sgd').glob('*/__init__.py')}
    assert {'data', 'quiz', 'widgets', 'course'} <= subs, subs
    for m, nb in nbs.items():  # library notebooks are split the same way as the package
        if '.' in m or (ROOT/'mnist_sgd'/m).is_dir():
            assert nb.parent == ROOT/'nbs'/'lib'/m.split('.')[0], (m, nb)


@pytest.mark.parametrize('old, new', [('graders', 'quiz.graders'), ('fit_widget', 'widgets.fit'), ('cli', 'course.cli'),
                                      ('answers', 'quiz.answers'), ('report', 'course.report')])
def test_old_import_paths_still_work(old, new):
    "A learner's `import mnist_sgd.graders` gets the very module at its new place, with a warning that names it."
    import importlib, sys, warnings
    sys.modules.pop(f'mnist_sgd.{old}', None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        mod = importlib.import_module(f'mnist_sgd.{old}')
    assert mod is importlib.import_module(f'mnist_sgd.{new}') and mod.__spec__.name == f'mnist_sgd.{new}'
    assert any(f'mnist_sgd.{new}' in str(w.message) for w in caught if w.category is DeprecationWarning)


@pytest.mark.parametrize('nb', LESSONS, ids=LESSON_IDS)
def test_a_lesson_imports_no_later_lessons_module(nb):
    n = _lesson_no(nb)
    for m in sorted(_imported_modules(_code_of_notebook(nb))):
        if m == 'all' or m not in _module_notebook(): continue
        assert _rank(m) <= n, (f'{nb.name} imports mnist_sgd.{m}, which depends on lesson {_rank(m):02d}: '
                               'a lesson may only use earlier lessons and library modules that do')


def test_the_rank_rule_catches_a_forward_import():
    "The dependency check above can fail: a library module that imports a late lesson's module ranks as that lesson."
    late = max(_module_notebook(), key=_rank)
    assert _rank(late) >= 6, (late, _rank(late))
    assert _imported_modules(f'from mnist_sgd.{late} import x\nimport mnist_sgd.core') == {late, 'core'}
    assert _imported_modules('from ..baseline import f\nfrom . import fig_png', 'widgets') == {'baseline', 'widgets'}
    assert _rank('widgets.baseline') == 2 and _rank('quiz.graders') >= 4


@pytest.mark.parametrize('nb', LESSONS, ids=LESSON_IDS)
def test_a_lesson_opens_with_its_idea(nb):
    "Within the first five cells the learner meets prose about the idea, not a wall of imports and plumbing."
    first = [c for c in _cells(nb) if COLAB_MARK not in _src(c)][:5]  # the Colab setup cell does nothing off Colab
    prose = [_src(c) for c in first if c['cell_type'] == 'markdown']
    body = [re.sub(r'^\s*(#.*|>.*)?$', '', p, flags=re.M).strip() for p in prose]  # headings and the summary line aside
    assert any(len(b) >= 150 for b in body), f'{nb.name}: no paragraph of prose in the first five cells'
    for c in first:
        if c['cell_type'] != 'code': continue
        s = _src(c)
        assert not re.search(r'^\s*(import|from)\s+(socket|tarfile|hashlib|zlib|urllib)', s, re.M), f'{nb.name}: plumbing first'


@pytest.mark.parametrize('nb', LESSONS, ids=LESSON_IDS)
def test_harness_cells_are_hidden_and_imports_are_visible(nb):
    for c in _cells(nb):
        if c['cell_type'] != 'code': continue
        s = _src(c)
        if re.search(r'^\s*report\(', s, re.M):
            assert s.startswith('#| hide'), f'{nb.name}: the report cell must be hidden:\n{s}'
        if s.startswith('#| hide'):
            hidden_lib = [ln for ln in s.splitlines() if re.match(r'\s*from mnist_sgd\.(?!course\.report\b|checks\b)', ln)]
            assert not hidden_lib, f'{nb.name}: a learner needs to see these imports: {hidden_lib}'


@pytest.mark.parametrize('nb', [p for p in LESSONS if _lesson_no(p) <= 8], ids=lambda p: p.stem)
def test_a_lesson_ends_with_what_you_learned_and_its_questions(nb):
    md = [_src(c) for c in _cells(nb) if c['cell_type'] == 'markdown']
    last = md[-1]
    assert last.startswith('## What you learned'), f'{nb.name}: the last cell must be "What you learned"'
    assert re.search(r'[Qq]uestionnaire', last) and re.search(r'\b\d{1,2}\b', last.split('uestionnaire', 1)[1]), \
        f'{nb.name}: name the questionnaire items this lesson answers, with their numbers'


# Sizes of the embedded subset and of the real downloads: a lesson computes them, it never states them as facts.
BAKED = re.compile(r'(?<![\d.,])(800|1,000|1000|4,000|4000|12,396|12396|2,038|2038|6,131|6,265|60,000|10,000)\s+'
                   r'(training |validation |train |valid |real |embedded )?(images|digits|labels|threes|sevens|items)', re.I)


@pytest.mark.parametrize('nb', LESSONS, ids=LESSON_IDS)
def test_no_data_set_size_is_baked_into_a_lesson(nb):
    for c in _cells(nb):
        s = _src(c)
        for m in BAKED.finditer(s):
            line = s[s.rfind('\n', 0, m.start()) + 1: s.find('\n', m.end()) if '\n' in s[m.end():] else len(s)]
            # allowed when the sentence says which data set the number belongs to
            if re.search(r'embedded|subset|full download|real download|on the real|fastai\'s real|MNIST_SAMPLE has', line, re.I): continue
            if c['cell_type'] == 'code' and re.search(r'\{[^}]+\}', line): continue  # an f-string prints the real number
            pytest.fail(f'{nb.name}: "{m[0]}" states one data set\'s size as a fact: {line.strip()[:160]}')
    assert BAKED.search('there are 800 images')  # the pattern itself matches


@pytest.mark.parametrize('nb', LESSONS, ids=LESSON_IDS)
def test_a_lesson_has_the_current_colab_setup_cell_before_its_first_import(nb):
    cells = [c for c in _cells(nb) if c['cell_type'] == 'code']
    assert cells and COLAB_MARK in _src(cells[0]), f'{nb.name}: run python tools/colab_cell.py'
    assert _src(cells[0]) == colab_cell_source(), f'{nb.name}: the Colab cell is out of date: run python tools/colab_cell.py'


import importlib.util
_FIND_SPEC = importlib.util.find_spec


def _run_colab_cell(monkeypatch, on_colab:bool, installed:bool, spec_env=None):
    import importlib.util, subprocess
    calls = []
    monkeypatch.setattr(subprocess, 'run', lambda args, **kw: calls.append(args))
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: (_FIND_SPEC(name, *a) if installed or name != 'mnist_sgd' else None))
    if on_colab: monkeypatch.setenv('COLAB_RELEASE_TAG', 'release-colab_20261201')
    else: monkeypatch.delenv('COLAB_RELEASE_TAG', raising=False)
    if spec_env: monkeypatch.setenv('MNIST_SGD_SPEC', spec_env)
    else: monkeypatch.delenv('MNIST_SGD_SPEC', raising=False)
    exec(colab_cell_source('mnist_sgd[course]').replace('#| hide', ''), {})
    return calls


def test_the_colab_cell_installs_only_on_colab_and_only_once(monkeypatch):
    assert _run_colab_cell(monkeypatch, on_colab=False, installed=False) == []  # a laptop, CI, the runner
    assert _run_colab_cell(monkeypatch, on_colab=True, installed=True) == []  # already installed: nothing to do
    calls = _run_colab_cell(monkeypatch, on_colab=True, installed=False)
    assert len(calls) == 1 and calls[0][-1] == 'mnist_sgd[course]' and calls[0][1:4] == ['-m', 'pip', 'install']
    calls = _run_colab_cell(monkeypatch, on_colab=True, installed=False, spec_env='mnist_sgd[course] @ git+https://example.invalid/x')
    assert calls[0][-1] == 'mnist_sgd[course] @ git+https://example.invalid/x'
    assert 'drive' not in colab_cell_source().lower().replace('no google drive access', '')


# The chapter at the chapter's size: an exported lesson cell reads as the idea, with its guards one call away in
# mnist_sgd.checks, and the edge-case tests live in tests/, not in the learner's view.
def _exported(nb:Path) -> list[str]:
    return [_src(c) for c in _cells(nb) if c['cell_type'] == 'code' and _src(c).startswith('#| export')]


def _visible_code(nb:Path) -> list[str]:
    return [_src(c) for c in _cells(nb) if c['cell_type'] == 'code' and not _src(c).startswith('#| hide')]


CHAPTER_LESSONS = [p for p in LESSONS if 1 <= _lesson_no(p) <= 8]


def test_exported_lesson_cells_are_at_the_chapters_size():
    sizes = {(nb.name, s.splitlines()[1][:50]): len(s.splitlines()) - 1 for nb in CHAPTER_LESSONS for s in _exported(nb)}
    assert max(sizes.values()) <= 40, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    optim = [n for (nb, _), n in sizes.items() if nb.startswith('05_')]
    basic = [len(s.splitlines()) - 1 for s in _exported(next(p for p in LESSONS if p.name.startswith('05_'))) if 'class BasicOptim' in s]
    assert basic and basic[0] <= 15, basic
    raises = sum(len(re.findall(r'\braise\b', s)) for nb in CHAPTER_LESSONS for s in _exported(nb))
    assert raises <= 10, raises


def test_lessons_show_few_edge_case_tests_and_no_mocks():
    fails = {nb.name: sum(len(re.findall(r'\btest_fail\(', s)) for s in _visible_code(nb)) for nb in CHAPTER_LESSONS}
    assert sum(fails.values()) <= 10, fails
    mocks = [nb.name for nb in CHAPTER_LESSONS for s in _visible_code(nb) if re.search(r'\bmock\b|monkeypatch', s)]
    assert not mocks, mocks
