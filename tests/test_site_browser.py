"The course site in a real browser (Debian's Chromium here, $MNIST_SGD_CHROMIUM on CI), driven by Playwright: the index and a lesson, with their pictures."
import os, shutil
from pathlib import Path
import pytest
from mnist_sgd.course.cli import main

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO/'artifacts'
CHROMIUM = os.environ.get('MNIST_SGD_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--no-first-run', '--disable-sync']


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
    "The site of two real lessons, executed on the embedded data."
    dest = tmp_path_factory.mktemp('course_site')
    assert main(['site', str(dest), '--only', '01,02', '--source', 'embedded', '--device', 'auto']) == 0
    return dest


def _image_widths(page) -> list:
    page.wait_for_function('Array.from(document.images).every(i => i.complete)', timeout=15_000)
    return page.eval_on_selector_all('img', 'imgs => imgs.map(i => i.naturalWidth)')


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS/name), full_page=False)
    assert (ARTIFACTS/name).stat().st_size > 5_000


def test_index_lists_the_lessons_with_their_pictures(browser, site):
    page = browser.new_page(viewport={'width': 1100, 'height': 800})
    page.goto((site/'index.html').as_uri(), wait_until='load')
    assert page.title() == 'mnist_sgd: the course'
    links = page.eval_on_selector_all('table a', 'as => as.map(a => a.getAttribute("href"))')
    assert links == ['01_images.html', '02_pixel_similarity.html']
    assert page.locator('td.ok').count() == 2
    widths = _image_widths(page)
    assert len(widths) == 2 and all(w > 0 for w in widths), widths  # a thumbnail of each lesson's first picture
    _shot(page, 'site_index.png')
    page.close()


def test_a_lesson_renders_with_its_plots_and_links_on(browser, site):
    page = browser.new_page(viewport={'width': 1100, 'height': 900})
    page.goto((site/'index.html').as_uri())
    page.click('text=Images are numbers')
    page.wait_for_load_state('load')
    assert page.url.endswith('/01_images.html')
    assert page.locator('h1').first.inner_text().startswith('Images are numbers')
    widths = _image_widths(page)
    assert len(widths) >= 2 and all(w > 0 for w in widths), widths
    assert page.locator('.jp-OutputArea-output').count() > 3  # outputs made it into the page
    page.locator('img').first.scroll_into_view_if_needed()
    _shot(page, 'site_lesson_01_images.png')
    page.locator('nav.mnist-sgd-nav a[href="02_pixel_similarity.html"]').first.click()  # next lesson
    page.wait_for_load_state('load')
    assert page.url.endswith('/02_pixel_similarity.html') and all(w > 0 for w in _image_widths(page))
    page.locator('nav.mnist-sgd-nav a[href="index.html"]').first.click()
    page.wait_for_load_state('load')
    assert page.url.endswith('/index.html')
    page.close()
