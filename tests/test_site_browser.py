"""The course site in a real browser (Debian's Chromium here, $MNIST_SGD_CHROMIUM on CI), driven by Playwright, with every
request to another host blocked: the syllabus and a lesson at desktop (1280 px) and phone (390 px) width, formulas laid out
as MathML, and the two widgets that work without a kernel (lesson 02's baseline explorer, lesson 03's learning-rate
explorer) reacting to their sliders. The site is built once from the real lessons 02 and 03, run on the embedded data, and
served from 127.0.0.1. Screenshots land in artifacts/."""
import functools, http.server, os, re, shutil, sys, threading
from pathlib import Path
from urllib.parse import urlparse
import pytest
from mnist_sgd.course.cli import main

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO/'artifacts'
CHROMIUM = os.environ.get('MNIST_SGD_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--no-first-run', '--disable-sync']
DESKTOP = dict(viewport={'width': 1280, 'height': 900})
PHONE = dict(viewport={'width': 390, 'height': 844}, device_scale_factor=3, is_mobile=True, has_touch=True)
WIDTHS = {'desktop': DESKTOP, 'phone': PHONE}


def _browser_required() -> bool:
    return os.environ.get('CI', '').lower() == 'true' or os.environ.get('MNIST_SGD_REQUIRE_BROWSER') == '1'


def _need(ok: bool, why: str):
    "Skip with `why` when a browser piece is missing, unless the environment demands the browser tests run."
    if ok: return
    if _browser_required(): pytest.fail(f'{why} (CI=true or MNIST_SGD_REQUIRE_BROWSER=1 demands the browser tests)')
    pytest.skip(why)


@pytest.fixture(scope='module')
def browser():
    _need(Path(CHROMIUM).exists(), f'no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`')
    try: from playwright.sync_api import sync_playwright
    except ImportError: _need(False, 'Python Playwright is not installed: pip install playwright (never `playwright install`)')
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site of lessons 02 and 03, executed on the embedded data."
    dest = tmp_path_factory.mktemp('course_site')
    assert main(['site', str(dest), '--only', '02,03', '--source', 'embedded', '--device', 'auto']) == 0
    return dest


@pytest.fixture(scope='module')
def server(site):
    "The site served over HTTP from 127.0.0.1, as a host would serve it."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # a page that moves on drops its half-read requests: not news
            if not isinstance(sys.exc_info()[1], ConnectionError): super().handle_error(request, client_address)
    httpd = Server(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown(); httpd.server_close()


@pytest.fixture
def offline(browser):
    "open(url, width) gives a page of a browser context in which every request to another host is blocked and recorded."
    contexts, blocked = [], []
    def block_other_hosts(route):
        if urlparse(route.request.url).hostname in ('127.0.0.1', 'localhost'): route.continue_()
        else: blocked.append(route.request.url); route.abort()
    def open_(url, width='desktop'):
        ctx = browser.new_context(**WIDTHS[width]); contexts.append(ctx)
        ctx.route('**/*', block_other_hosts)
        page = ctx.new_page()
        page.goto(url, wait_until='load')
        return page
    open_.blocked = blocked
    yield open_
    for ctx in contexts: ctx.close()
    assert blocked == [], f'the site tried to reach other hosts: {blocked}'


def _shot(page, name, full=False):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS/name), full_page=full)
    assert (ARTIFACTS/name).stat().st_size > 5_000


def _images_loaded(page) -> list:
    page.wait_for_function('Array.from(document.images).every(i => i.complete)', timeout=15_000)
    return page.eval_on_selector_all('img', 'imgs => imgs.map(i => i.naturalWidth)')


def _layout(page) -> dict:
    "What a reader sees of the page's width: horizontal scrolling, the column, the text size."
    return page.evaluate('''() => {
        const doc = document.documentElement, main = document.querySelector('main');
        const p = main.querySelector('.jp-RenderedMarkdown > p:not(.mnist-sgd-links)') || main.querySelector('p:not(.mnist-sgd-links)');
        return {scroll: doc.scrollWidth, width: doc.clientWidth, inner: window.innerWidth,
                main: main.getBoundingClientRect().width, em: parseFloat(getComputedStyle(document.body).fontSize),
                text: parseFloat(getComputedStyle(p).fontSize), p: p.getBoundingClientRect().width,
                viewport: !!document.querySelector('meta[name=viewport][content*="width=device-width"]')}; }''')


@pytest.mark.parametrize('width', ['desktop', 'phone'])
def test_the_index_is_a_syllabus_that_fits_the_screen(offline, server, width):
    page = offline(f'{server}/index.html', width)
    assert page.title() == 'mnist_sgd: the course'
    lay = _layout(page)
    assert lay['viewport'] and lay['scroll'] <= lay['width'], lay          # a viewport tag, and no sideways scrolling
    assert lay['inner'] == WIDTHS[width]['viewport']['width'], lay         # laid out at the screen's width, not zoomed out
    assert lay['text'] >= 16, lay                                          # readable without zooming in
    if width == 'desktop': assert 40 * lay['em'] <= lay['p'] <= 50 * lay['em'], lay   # a readable column, not 150 characters
    else: assert lay['p'] >= 0.8 * lay['width'], lay                       # on a phone the text uses the screen
    lessons = page.eval_on_selector_all('ol.mnist-sgd-syllabus h3 a', 'as => as.map(a => a.getAttribute("href"))')
    assert lessons == ['02_pixel_similarity.html', '03_sgd.html']
    items = page.locator('ol.mnist-sgd-syllabus > li')
    for i in range(2):
        text = items.nth(i).inner_text()
        assert 'You build' in text and 'Try it here' in text and 'no kernel needed' in text and ' min' in text, text
    footer = ' '.join(page.locator('footer').inner_text().split())
    assert 'Deep Learning for Coders with fastai and PyTorch by Jeremy Howard and Sylvain Gugger' in footer
    _shot(page, f'site_index_{width}.png')
    page.click('text=Results of this build')
    page.wait_for_load_state('load')
    assert page.url.endswith('/results.html') and page.locator('td.ok').count() == 2
    lay = _layout(page)
    assert lay['scroll'] <= lay['width'], lay


@pytest.mark.parametrize('width', ['desktop', 'phone'])
def test_a_lesson_has_a_column_an_outline_and_its_plots(offline, server, width):
    page = offline(f'{server}/03_sgd.html', width)
    lay = _layout(page)
    assert lay['viewport'] and lay['scroll'] <= lay['width'] and lay['text'] >= 16, lay
    side, main = (page.locator(s).bounding_box() for s in ('aside.mnist-sgd-side', 'main'))
    outline = page.locator('.mnist-sgd-outline a')
    assert outline.count() >= 5
    if width == 'desktop':
        assert 40 * lay['em'] <= lay['main'] <= 50 * lay['em'], lay        # the column
        assert side['x'] + side['width'] <= main['x'] and outline.first.is_visible()   # the sidebar beside it
    else:
        assert side['y'] + side['height'] <= main['y'] and not outline.first.is_visible()  # folded above the lesson
        page.click('aside summary')
    target = outline.nth(3).get_attribute('href')
    outline.nth(3).click()
    page.wait_for_function(f'location.hash === {target!r}')
    assert page.evaluate(f'Math.abs(document.getElementById({target[1:]!r}).getBoundingClientRect().top) < 80')
    widths = _images_loaded(page)
    assert len(widths) >= 5 and all(w > 0 for w in widths), widths
    _shot(page, f'site_lesson_03_{width}.png')
    page.locator('nav.mnist-sgd-nav a[href="02_pixel_similarity.html"]').first.click()   # previous lesson
    page.wait_for_load_state('load')
    assert page.url.endswith('/02_pixel_similarity.html') and all(w > 0 for w in _images_loaded(page))
    page.locator('nav.mnist-sgd-nav a[href="index.html"]').first.click()
    page.wait_for_load_state('load')
    assert page.url.endswith('/index.html')


def test_formulas_are_laid_out_as_mathml_with_no_network(offline, server):
    page = offline(f'{server}/03_sgd.html')
    assert page.locator('math').count() >= 40
    m = page.evaluate('''() => {
        const box = e => e.getBoundingClientRect();
        const frac = document.querySelector('math[display=block] mfrac'), sup = document.querySelector('msup');
        return {mathml: typeof MathMLElement !== 'undefined' && document.querySelector('math') instanceof MathMLElement,
                num: box(frac.children[0]), den: box(frac.children[1]), base: box(sup.children[0]), exp: box(sup.children[1]),
                blocks: Array.from(document.querySelectorAll('math[display=block]')).map(e => getComputedStyle(e).display),
                text: document.querySelector('main').innerText}; }''')
    assert m['mathml']
    assert m['num']['bottom'] <= m['den']['top'] + 1 and m['num']['height'] > 0    # a fraction: numerator over denominator
    assert m['exp']['bottom'] < m['base']['bottom'] and m['exp']['left'] >= m['base']['right'] - 1   # a raised exponent
    assert m['blocks'] and all(d.startswith('block') for d in m['blocks']), m['blocks']
    assert '$f(x)' not in m['text'] and '\\frac' not in m['text']                 # no raw TeX on the screen
    page.locator('math[display=block]').first.scroll_into_view_if_needed()
    _shot(page, 'site_math.png')


def _frame(fig) -> tuple:
    return fig.locator('img').get_attribute('src'), fig.locator('output').inner_text(), fig.locator('.mnist-sgd-frames-caption').inner_text()


@pytest.mark.parametrize('width', ['desktop', 'phone'])
def test_the_learning_rate_explorer_works_without_a_kernel(offline, server, width):
    page = offline(f'{server}/03_sgd.html', width)
    fig = page.locator('#mnist-sgd-lr-explorer')
    fig.scroll_into_view_if_needed()
    src, label, caption = _frame(fig)
    assert label == '1.0e-05' and 'lr=1.0e-05' in caption and 'levelled off' in caption
    assert fig.bounding_box()['width'] <= WIDTHS[width]['viewport']['width']
    slider = fig.locator('input[type=range]')
    slider.focus(); page.keyboard.press('ArrowRight')                      # one step up: a new frame, a new caption
    src2, label2, caption2 = _frame(fig)
    assert src2 != src and label2 == '1.6e-05' and 'lr=1.6e-05' in caption2
    page.keyboard.press('End')                                             # the largest rate blows up
    assert 'blows up' in _frame(fig)[2]
    page.keyboard.press('Home')
    assert _frame(fig)[1] == '1.0e-07' and 'crawls' in _frame(fig)[2]
    assert page.evaluate('document.querySelector("#mnist-sgd-lr-explorer img").naturalWidth') > 100
    _shot(page, f'site_lr_explorer_{width}.png')


def test_the_baseline_explorer_works_without_a_kernel(offline, server):
    page = offline(f'{server}/02_pixel_similarity.html')
    fig = page.locator('#mnist-sgd-baseline-explorer')
    fig.scroll_into_view_if_needed()
    src, label, caption = _frame(fig)
    assert label == 'image 0' and caption.startswith('validation image 0:')
    fig.locator('input[type=range]').fill('5')                             # move the slider
    src2, label2, caption2 = _frame(fig)
    assert src2 != src and label2 != label and caption2.startswith(f'validation image {label2.split()[-1]}:')
    fig.locator('input[type=checkbox]').check()                            # only the mistakes
    src3, _, caption3 = _frame(fig)
    assert src3 not in (src, src2) and 'wrong' in caption3
    shown = int(re.search(r'the first (\d+) of', fig.locator('.mnist-sgd-frames-toggle').inner_text())[1])
    assert fig.locator('input[type=range]').get_attribute('max') == str(shown - 1)   # the slider now spans the mistakes only
    _shot(page, 'site_baseline_explorer.png')
