"""The widgets in a real browser: JupyterLab in Debian's Chromium (driven by Playwright) runs each widget notebook, then the
test moves every slider, ticks the box, draws a stroke on the canvas and checks what a learner would see change.

Screenshots land in artifacts/widgets/. Without chromium (or Playwright) the test is skipped, unless CI=true or
MNIST_SGD_REQUIRE_BROWSER=1, where a missing browser is a failure.
"""
import json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT/'artifacts'/'widgets'
REQUIRED = os.environ.get('CI', '').lower() == 'true' or os.environ.get('MNIST_SGD_REQUIRE_BROWSER') == '1'
CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--no-first-run', '--disable-sync']
# Each notebook with widgets (relative to nbs/), and the widgets it must show (CSS classes the widget classes give
# themselves). A library widget notebook runs all its cells; a lesson runs the cells a learner runs to reach its widget (up
# to the static picture right after it), which leaves out slow later sections (such as lesson 6's ResNet).
NOTEBOOKS = {
    'lib/widgets/fit.ipynb': ['mnist-sgd-fit-quadratic'],
    'lib/widgets/baseline.ipynb': ['mnist-sgd-baseline-explorer'],
    'lib/widgets/draw.ipynb': ['mnist-sgd-draw-digit'],
    '02_pixel_similarity.ipynb': ['mnist-sgd-baseline-explorer'],
    '03_sgd.ipynb': ['mnist-sgd-fit-quadratic'],
    '06_nonlinearity.ipynb': ['mnist-sgd-draw-digit'],
}
RUN_ALL_CELLS = {'lib/widgets/fit.ipynb', 'lib/widgets/baseline.ipynb', 'lib/widgets/draw.ipynb'}
BUILDERS = ['QuadraticFitter(', 'BaselineExplorer(', 'DigitDrawer(']


def _chromium() -> str | None:
    "Debian's chromium (never a browser that Playwright downloads)."
    for p in (os.environ.get('MNIST_SGD_CHROMIUM'), shutil.which('chromium'), '/usr/bin/chromium'):
        if p and Path(p).is_file(): return p
    return None


def _missing(reason: str):
    if REQUIRED: pytest.fail(f'{reason} (required here because CI=true or MNIST_SGD_REQUIRE_BROWSER=1)')
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


class Lab:
    "A JupyterLab server of our own: temporary root, config and runtime folders, a random port and token."
    def __init__(self, notebooks, src=ROOT/'nbs'):
        self.tmp = Path(tempfile.mkdtemp(prefix='mnist_sgd_lab_'))
        self.root = self.tmp/'root'; self.root.mkdir()
        for nb in notebooks:  # a copy that names its kernel, so JupyterLab starts one without asking
            d = json.loads((Path(src)/nb).read_text())
            d['metadata'].setdefault('kernelspec', {'name': 'python3', 'display_name': 'Python 3 (ipykernel)', 'language': 'python'})
            (self.root/nb).parent.mkdir(parents=True, exist_ok=True); (self.root/nb).write_text(json.dumps(d))
        cfg = self.tmp/'config'
        settings = cfg/'lab'/'user-settings'/'@jupyterlab'
        # no news/update pop-ups over the notebook; every cell kept in the page (no virtual scrolling)
        for path, value in [('apputils-extension/notification.jupyterlab-settings', {'fetchNews': 'false', 'checkForUpdates': False}),
                            ('notebook-extension/tracker.jupyterlab-settings', {'windowingMode': 'none'})]:
            (settings/path).parent.mkdir(parents=True, exist_ok=True); (settings/path).write_text(json.dumps(value))
        self.port, self.token, self._closing = _free_port(), secrets.token_hex(16), []
        self.url = f'http://127.0.0.1:{self.port}'
        env = {k: v for k, v in os.environ.items() if k != 'MPLBACKEND'}  # the kernel must show figures inline
        env.update(JUPYTER_CONFIG_DIR=str(cfg), JUPYTER_RUNTIME_DIR=str(self.tmp/'runtime'), JUPYTER_DATA_DIR=str(self.tmp/'data'),
                   IPYTHONDIR=str(self.tmp/'ipython'), MNIST_SGD_SOURCE='embedded', JUPYTER_PLATFORM_DIRS='1')
        jupyter = Path(sys.executable).with_name('jupyter')
        cmd = [str(jupyter), 'lab'] if jupyter.exists() else [sys.executable, '-m', 'jupyterlab']
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log = open(ARTIFACTS/'jupyter-server.log', 'w')
        self.proc = subprocess.Popen(
            cmd + ['--no-browser', f'--ServerApp.token={self.token}', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={self.port}',
                   '--ServerApp.port_retries=0', '--ServerApp.open_browser=False', f'--ServerApp.root_dir={self.root}',
                   '--LabApp.expose_app_in_browser=True', '--LabApp.extension_manager=readonly']
            + (['--allow-root'] if hasattr(os, 'geteuid') and os.geteuid() == 0 else []),
            env=env, cwd=self.root, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try: self._wait_ready()
        except BaseException: self.stop(); raise

    def api(self, method: str, path: str, timeout: float = 10.):
        req = urllib.request.Request(self.url + path, method=method, headers={'Authorization': f'token {self.token}'},
                                     data=b'' if method == 'POST' else None)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            return json.loads(body) if body else None

    def _wait_ready(self, timeout: float = 60.):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f'JupyterLab exited with code {self.proc.returncode}; see {ARTIFACTS/"jupyter-server.log"}')
            try: self.api('GET', '/api/status', timeout=2); return
            except OSError: time.sleep(0.3)
        raise RuntimeError(f'JupyterLab did not answer within {timeout:.0f} s; see {ARTIFACTS/"jupyter-server.log"}')

    def _delete_kernel(self, kid: str):
        try: self.api('DELETE', f'/api/kernels/{kid}', timeout=20)
        except OSError: pass

    def release_kernels(self):
        "Shut down the kernels running now through the REST API, in the background: the next notebook need not wait."
        try: ids = [k['id'] for k in self.api('GET', '/api/kernels') or []]
        except OSError: return
        for kid in ids:
            th = threading.Thread(target=self._delete_kernel, args=(kid,), daemon=True); th.start(); self._closing.append(th)

    def stop(self):
        "Shut down every kernel through the REST API, then the server; kill what is left of our own process group."
        try:
            if self.proc.poll() is None:
                self.release_kernels()
                for th in self._closing: th.join(25)
                try: self.api('POST', '/api/shutdown', timeout=5)
                except OSError: pass
                try: self.proc.wait(10)
                except subprocess.TimeoutExpired: self.proc.terminate()
                try: self.proc.wait(5)
                except subprocess.TimeoutExpired: os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait(5)
        finally:
            try: os.killpg(self.proc.pid, signal.SIGKILL)  # anything the server started and left behind (kernels)
            except (ProcessLookupError, PermissionError): pass
            self.log.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope='module')
def browser():
    chromium = _chromium()
    if chromium is None: _missing("Debian's chromium is not installed (apt-get install chromium)")
    try: from playwright.sync_api import sync_playwright
    except ImportError: _missing('Python Playwright is not installed (pip install playwright; never `playwright install`)')
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try: yield b
        finally: b.close()


@pytest.fixture(scope='module')
def lab(browser):
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # this run's screenshots only
    server = Lab(list(NOTEBOOKS))
    try: yield server
    finally: server.stop()


# ---- driving JupyterLab -------------------------------------------------------------------------------------------------

RUN = """async ([timeoutMs, builders]) => {
  // builders === null: Run > Run All Cells. Otherwise run every cell above the one after the static picture that
  // follows the last widget cell (a cell calling one of `builders`), with the notebook's Run All Above command.
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  const cells = panel.content.widgets;
  let upto = cells.length;
  if (builders !== null) {
    let last = -1;
    cells.forEach((c, i) => { if (c.model.type === 'code' && builders.some(b => c.model.sharedModel.getSource().includes(b))) last = i; });
    if (last < 0) throw new Error('no widget cell in ' + panel.context.path);
    upto = Math.min(last + 2, cells.length);
  }
  const run = (async () => {
    await panel.context.sessionContext.ready;
    if (upto === cells.length) return app.commands.execute('runmenu:run-all');
    panel.content.activeCellIndex = upto;
    return app.commands.execute('notebook:run-all-above');
  })();
  const timer = new Promise((_, fail) => setTimeout(() => fail(new Error('start + run took longer than ' + timeoutMs + ' ms')), timeoutMs));
  await Promise.race([run, timer]);
  return upto;
}"""

ERRORS = """(upto) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const errs = [];
  panel.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code' || i >= upto) return;
    for (const o of cell.model.outputs.toJSON()) if (o.output_type === 'error') errs.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    if (cell.model.executionCount === null) errs.push(`cell ${i} did not run`);
  });
  return errs;
}"""


def _open_notebook(page, lab, name):
    page.goto(f'{lab.url}/lab/tree/{name}?token={lab.token}')
    page.wait_for_function("""(name) => window.jupyterapp && window.jupyterapp.shell.currentWidget &&
        window.jupyterapp.shell.currentWidget.context && window.jupyterapp.shell.currentWidget.context.path.endsWith(name) &&
        window.jupyterapp.shell.currentWidget.context.isReady""", arg=name, timeout=60_000)


def _text(page, sel): return page.locator(sel).first.inner_text()


def _src(page, sel): return page.locator(sel).first.get_attribute('src')


def _wait_change(page, sel, old, what='text', timeout=15_000):
    "Wait until the element's text (or image src) differs from `old`; returns the new value."
    js = ("([sel, old]) => { const e = document.querySelector(sel); return e && e.innerText !== old; }" if what == 'text' else
          "([sel, old]) => { const e = document.querySelector(sel); return e && e.src && e.src !== old; }")
    page.wait_for_function(js, arg=[sel, old], timeout=timeout)
    return _text(page, sel) if what == 'text' else _src(page, sel)


def _wait_text(page, sel, needle, timeout=15_000):
    "Wait until the element's text contains `needle`; returns the text."
    page.wait_for_function("([sel, s]) => { const e = document.querySelector(sel); return e && e.innerText.includes(s); }",
                           arg=[sel, needle], timeout=timeout)
    return _text(page, sel)


def _settle(page, sel, quiet_ms=1000, timeout=15_000):
    "Wait until the element's text has stopped changing for `quiet_ms` (the kernel has answered every event); returns it."
    end, last, since = time.monotonic() + timeout / 1000, None, time.monotonic()
    while time.monotonic() < end:
        now = _text(page, sel)
        if now != last: last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_ms / 1000: return now
        page.wait_for_timeout(100)
    raise AssertionError(f'{sel} kept changing for {timeout} ms')


def _press(page, slider_sel, key, times=1):
    "Move an ipywidgets slider the way a keyboard user does: focus its handle, press a key."
    handle = page.locator(f'{slider_sel} .noUi-handle').first
    handle.scroll_into_view_if_needed(); handle.focus()
    for _ in range(times): handle.press(key)


def _shot(page, sel, name):
    page.locator(sel).first.screenshot(path=str(ARTIFACTS/f'{name}.png'))


def exercise_fit(page, stem):
    "Move a, b and c: the loss and the curve change; move the learning rate up to the top: SGD blows up."
    box = '.mnist-sgd-fit-quadratic'
    page.locator(box).first.scroll_into_view_if_needed(); _shot(page, box, f'{stem}-fit-1-start')
    for p in 'abc':
        text, src = _text(page, f'{box} .mnist-sgd-fit-text'), _src(page, f'{box} .mnist-sgd-fit-img')
        _press(page, f'{box} .mnist-sgd-param-{p}', 'PageUp')  # one key press: several steps of the slider
        new = _wait_change(page, f'{box} .mnist-sgd-fit-text', text)
        assert 'loss' in new and new != text, f'moving {p} did not change the loss: {text!r} -> {new!r}'
        _wait_change(page, f'{box} .mnist-sgd-fit-img', src, 'src')
    _shot(page, box, f'{stem}-fit-2-sliders-moved')
    text, src = _text(page, f'{box} .mnist-sgd-sgd-text'), _src(page, f'{box} .mnist-sgd-sgd-img')
    _press(page, f'{box} .mnist-sgd-lr', 'End')  # the largest learning rate: it must blow up
    _wait_text(page, f'{box} .mnist-sgd-sgd-text', 'blows up')
    _wait_change(page, f'{box} .mnist-sgd-sgd-img', src, 'src')
    _shot(page, box, f'{stem}-fit-3-lr-largest')
    src = _src(page, f'{box} .mnist-sgd-sgd-img')
    _press(page, f'{box} .mnist-sgd-lr', 'Home')  # the smallest: it must crawl
    _wait_text(page, f'{box} .mnist-sgd-sgd-text', 'crawls')
    _wait_change(page, f'{box} .mnist-sgd-sgd-img', src, 'src')
    _shot(page, box, f'{stem}-fit-4-lr-smallest')


def exercise_baseline(page, stem):
    "Step to the next image: distances and picture change; tick 'only mistakes': a wrong answer is shown."
    box = '.mnist-sgd-baseline-explorer'
    page.locator(box).first.scroll_into_view_if_needed(); _shot(page, box, f'{stem}-baseline-1-start')
    text, src = _text(page, f'{box} .mnist-sgd-baseline-text'), _src(page, f'{box} .mnist-sgd-baseline-img')
    assert 'validation image 0' in text
    _press(page, f'{box} .mnist-sgd-baseline-index', 'ArrowRight')
    new = _wait_text(page, f'{box} .mnist-sgd-baseline-text', 'validation image 1:')
    assert 'distance to the mean 3' in new and new != text
    _wait_change(page, f'{box} .mnist-sgd-baseline-img', src, 'src')
    _shot(page, box, f'{stem}-baseline-2-moved')
    page.locator(f'{box} .mnist-sgd-baseline-only input').first.check()
    _wait_text(page, f'{box} .mnist-sgd-baseline-text', 'wrong')  # only the mistakes now
    _shot(page, box, f'{stem}-baseline-3-mistakes')


def exercise_draw(page, stem):
    "Draw a 7 with the mouse: a prediction with its probability appears; Clear wipes it."
    box = '.mnist-sgd-draw-digit'
    canvas = page.locator(f'{box} canvas.mnist-sgd-draw-canvas, {box} .mnist-sgd-draw-canvas').first
    canvas.scroll_into_view_if_needed()
    bb = canvas.bounding_box()
    assert 270 <= bb['width'] <= 290 and 270 <= bb['height'] <= 290, f'the canvas should be 280×280 px on screen, got {bb}'
    text, src = _text(page, f'{box} .mnist-sgd-draw-result'), _src(page, f'{box} .mnist-sgd-draw-preview')
    X = lambda fx, fy: (bb['x'] + fx * bb['width'], bb['y'] + fy * bb['height'])
    for stroke in ([(0.25, 0.22), (0.75, 0.22), (0.62, 0.45), (0.5, 0.8)], [(0.4, 0.5), (0.68, 0.5)]):  # a 7, and its bar
        page.mouse.move(*X(*stroke[0])); page.mouse.down()
        for p in stroke[1:]: page.mouse.move(*X(*p), steps=8)
        page.mouse.up()
    _wait_text(page, f'{box} .mnist-sgd-draw-result', 'looks like a')
    _wait_change(page, f'{box} .mnist-sgd-draw-preview', src, 'src')
    answer = _settle(page, f'{box} .mnist-sgd-draw-result')  # the answer to the whole drawing (both strokes)
    assert 'looks like a' in answer and 'probability' in answer, f'no prediction after drawing: {answer!r}'
    _shot(page, box, f'{stem}-draw-1-a-seven')
    page.locator(f'{box} button.mnist-sgd-draw-clear, {box} .mnist-sgd-draw-clear').first.click()
    _wait_text(page, f'{box} .mnist-sgd-draw-result', 'Draw a digit')
    _shot(page, box, f'{stem}-draw-2-cleared')
    return answer


EXERCISES = {'mnist-sgd-fit-quadratic': exercise_fit, 'mnist-sgd-baseline-explorer': exercise_baseline,
             'mnist-sgd-draw-digit': exercise_draw}


@pytest.mark.parametrize('name', list(NOTEBOOKS))
def test_widgets_in_a_real_browser(browser, lab, name):
    stem = Path(name).stem
    assert (ROOT/'nbs'/name).exists(), f'{name} is listed here but not in nbs/'
    page = browser.new_page(viewport={'width': 1280, 'height': 1200})
    t0 = time.monotonic(); times = {}
    try:
        _open_notebook(page, lab, name); times['open'] = time.monotonic() - t0
        upto = page.evaluate(RUN, [90_000, None if name in RUN_ALL_CELLS else BUILDERS])
        times[f'run {upto} cells'] = time.monotonic() - t0 - times['open']
        page.screenshot(path=str(ARTIFACTS/f'{stem}-0-after-run.png'))
        assert page.evaluate(ERRORS, upto) == [], 'the notebook raised errors in the browser'
        for kind in NOTEBOOKS[name]:
            t = time.monotonic()
            page.wait_for_selector(f'.{kind}', timeout=20_000)
            EXERCISES[kind](page, stem)
            times[kind] = time.monotonic() - t
        with open(ARTIFACTS/'timings.txt', 'a') as f:
            f.write(f'{name}: ' + ', '.join(f'{k} {v:.1f} s' for k, v in times.items()) + '\n')
    except BaseException:
        try: page.screenshot(path=str(ARTIFACTS/f'{stem}-failure.png'), full_page=True)
        except Exception: pass
        raise
    finally:
        page.close()
        lab.release_kernels()
