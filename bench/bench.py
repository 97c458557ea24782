"""Speed of mnist_sgd, measured in one process and reported as ratios (run on demand; not a test).

    python bench/bench.py                   # training loops and data loading
    python bench/bench.py --course          # ... and every lesson through the runner, embedded and real-size data (slow)
    python bench/bench.py --course --course-only --jobs 2 --real /tmp/standin_home   # just the course, on a given real-size folder
    python bench/bench.py --device cuda     # the training loops on a GPU

Training: one epoch of a linear model (784 → 1) on 12,396 × 784 inputs (real MNIST_SAMPLE when fastai's copy is cached,
else random data of the same shape), bs=256, with
  - a bare tensor loop (randperm + slicing + a hand update): the reference,
  - the package's loop: `train_epoch` over `TensorBatches` with `BasicOptim`,
  - the book's way: the same `train_epoch` over a fastai `DataLoader(list(zip(x, y)))`,
  - fastai's `Learner.fit(1)` on DataLoaders of the same pairs (it also validates on 2,038 items, as MNIST_SAMPLE has).
Each is warmed up once, then timed `--repeats` times in turn; the table shows medians.
Targets: package loop ≤ 1.3× the bare loop; book-style loop ≥ 2.5× slower than the package loop;
a cached `load_digits` ≥ 10× faster than the first load; the whole course ≤ 45 s wall on the embedded data and ≤ 90 s
on real-size data on 2 cores, every lesson ≤ 30 s on real-size data.
"""
from __future__ import annotations
import argparse, os, statistics, sys, tempfile, threading, time, warnings
from pathlib import Path

warnings.filterwarnings('ignore', category=FutureWarning)
os.environ.setdefault('MNIST_SGD_SOURCE', 'embedded')
import torch
from torch import nn
from mnist_sgd import data as mdata
from mnist_sgd.data import data_root, load_digits, mnist_full, mnist_sample
from mnist_sgd.optim import BasicOptim
from mnist_sgd.training import TensorBatches, binary_xy, mnist_loss, train_epoch

N, BS, LR, N_VALID = 12_396, 256, 1.0, 2_038


def median_times(fns: dict, repeats: int, per_sample: int = 1) -> dict:
    "Warm each function up once, then time them in turn, `repeats` samples of `per_sample` calls; median seconds per call."
    for f in fns.values(): f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            for _ in range(per_sample): f()
            times[k].append((time.perf_counter() - t) / per_sample)
    return {k: statistics.median(v) for k, v in times.items()}


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


# --- training loops

def training_data():
    "12,396 × 784 inputs and 0/1 targets: real MNIST_SAMPLE (3s and 7s) when cached, else random of the same shape."
    real = data_root()/'mnist_sample'
    if (real/'train'/'3').is_dir():
        x, y = binary_xy(*load_digits(real, 'train', digits=(3, 7)), positive=3)
        vx, vy = binary_xy(*load_digits(real, 'valid', digits=(3, 7)), positive=3)
        return x, y, vx, vy, f'real MNIST_SAMPLE in {real}'
    g = torch.Generator().manual_seed(0)
    x, vx = torch.rand(N, 784, generator=g), torch.rand(N_VALID, 784, generator=g)
    y, vy = (torch.rand(N, 1, generator=g) < 0.5).float(), (torch.rand(N_VALID, 1, generator=g) < 0.5).float()
    return x, y, vx, vy, 'random data of the same shape (real MNIST_SAMPLE is not cached here)'


def bare_loop(model, x, y, device):
    "The reference: shuffle indices, slice batches, update by hand."
    def epoch():
        idx = torch.randperm(len(x), device=device)
        for i in range(0, len(x), BS):
            j = idx[i:i+BS]
            loss = mnist_loss(model(x[j]), y[j])
            loss.backward()
            with torch.no_grad():
                for p in model.parameters(): p -= LR * p.grad; p.grad = None
        sync(device)
    return epoch


def package_loop(model, x, y, device):
    dl, opt = TensorBatches(x, y, bs=BS, seed=0), BasicOptim(model.parameters(), LR)
    def epoch(): train_epoch(model, dl, opt); sync(device)
    return epoch


def book_loop(model, x, y, device):
    from fastai.data.load import DataLoader
    dl, opt = DataLoader(list(zip(x.cpu(), y.cpu())), bs=BS, shuffle=True), BasicOptim(model.parameters(), LR)
    def epoch(): train_epoch(model, dl, opt, device=device); sync(device)
    return epoch


def learner_fit(model, x, y, vx, vy, device):
    from fastai.data.core import DataLoaders
    from fastai.data.load import DataLoader
    from fastai.learner import Learner
    from fastai.optimizer import SGD
    import fastai.callback.progress  # noqa: F401 (adds Learner.no_bar)
    dls = DataLoaders(DataLoader(list(zip(x.cpu(), y.cpu())), bs=BS, shuffle=True, device=device),
                      DataLoader(list(zip(vx.cpu(), vy.cpu())), bs=BS, device=device), device=device)
    learn = Learner(dls, model, opt_func=SGD, lr=LR, loss_func=mnist_loss)
    def epoch():
        with learn.no_bar(), learn.no_logging(): learn.fit(1)
        sync(device)
    return epoch


def bench_training(device, repeats):
    x, y, vx, vy, what = training_data()
    x, y = x.to(device), y.to(device)
    torch.manual_seed(0)
    model = lambda: nn.Linear(784, 1).to(device)
    fns = {'bare tensor loop (randperm + slicing)': bare_loop(model(), x, y, device),
           'package: train_epoch + TensorBatches + BasicOptim': package_loop(model(), x, y, device),
           'book-style: train_epoch over DataLoader(list(zip(x, y)))': book_loop(model(), x, y, device),
           'fastai Learner.fit(1) (includes validation)': learner_fit(model(), x, y, vx, vy, device)}
    t = median_times(fns, repeats, per_sample=3)
    names = list(t); bare, pkg, book = (t[k] for k in names[:3])
    print(f'\n## One training epoch: linear model, {len(x):,} × 784, bs={BS}, device={device.type}, '
          f'torch threads={torch.get_num_threads()}, median of {repeats} samples of 3 epochs ({what})\n')
    print(f'| loop | ms / epoch | × bare loop |\n|---|---:|---:|')
    for k in names: print(f'| {k} | {t[k]*1e3:.1f} | {t[k]/bare:.2f}× |')
    print(f'\npackage / bare = {pkg/bare:.2f}× (target ≤ 1.3×: {"met" if pkg/bare <= 1.3 else "MISSED"}); '
          f'book-style / package = {book/pkg:.1f}× (target ≥ 2.5×: {"met" if book/pkg >= 2.5 else "MISSED"})')


# --- data loading

def bench_loading(repeats):
    cached = (data_root()/'mnist_sample'/'train').is_dir()
    src = 'fastai' if cached else 'embedded'
    full_src = 'fastai' if (data_root()/'mnist_png'/'training').is_dir() else 'embedded'
    sets = [(f'MNIST_SAMPLE train ({src})', mnist_sample(source=src, verbose=False), 'train'),
            (f'full MNIST training ({full_src})', mnist_full(source=full_src, verbose=False), 'training')]
    print(f'\n## load_digits: first load (decode PNGs) vs cached loads of the same folder, median of {repeats}\n')
    print('| data set | images | first load ms | disk-cached ms | × faster | in-memory ms | × faster |\n|---|---:|---:|---:|---:|---:|---:|')
    for name, path, split in sets:
        firsts, disks, mems = [], [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache:
                mdata._memory_cache.clear()
                t = time.perf_counter(); x, _ = load_digits(path, split, cache_dir=cache); firsts.append(time.perf_counter() - t)
                mdata._memory_cache.clear()
                t = time.perf_counter(); load_digits(path, split, cache_dir=cache); disks.append(time.perf_counter() - t)
                t = time.perf_counter(); load_digits(path, split, cache_dir=cache); mems.append(time.perf_counter() - t)
        f, d, m = (statistics.median(v) for v in (firsts, disks, mems))
        print(f'| {name} | {len(x):,} | {f*1e3:.0f} | {d*1e3:.1f} | {f/d:.0f}× | {m*1e3:.1f} | {f/m:.0f}× |')
    print('\ntarget: cached load ≥ 10× faster than the first (the first load here reads PNGs the OS has already cached)')


# --- the whole course

def _descendants_rss() -> int:
    "Total resident memory (bytes) of this process's descendants (the kernels), from /proc on Linux; 0 elsewhere."
    by_parent = {}
    for p in Path('/proc').glob('[0-9]*'):
        try: fields = (p/'stat').read_text().rsplit(')', 1)[1].split()
        except (OSError, IndexError): continue
        by_parent.setdefault(int(fields[1]), []).append((int(p.name), int(fields[21])))
    total, todo = 0, [os.getpid()]
    while todo:
        for pid, pages in by_parent.get(todo.pop(), []): total += pages * os.sysconf('SC_PAGE_SIZE'); todo.append(pid)
    return total


def _real_size_home(arg: str | None) -> tuple[str | None, str]:
    "A fastai home holding real-size MNIST_SAMPLE and MNIST: `--real DIR`, the current one when it has them, else a stand-in built now."
    if arg == 'none': return None, 'skipped (--real none)'
    if arg: return arg, f'the fastai home {arg}'
    if (data_root()/'mnist_sample'/'train').is_dir() and (data_root()/'mnist_png'/'training').is_dir():
        return str(data_root().parent), f"fastai's real download, cached in {data_root()}"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'tests'))
    from standin import build
    home = tempfile.mkdtemp(prefix='bench_standin_')
    t = time.perf_counter(); build(home)
    return home, f'a real-size stand-in (tests/standin.py, built in {time.perf_counter() - t:.0f} s)'


def _course_once(lessons, source, fastai_home, device_arg, jobs):
    "Run the course as `mnist-sgd course --source SOURCE --jobs JOBS` does, with FASTAI_HOME=fastai_home; (runs, wall seconds, peak kernel RSS)."
    from fastai.data.external import fastai_cfg
    from mnist_sgd.course.cli import _prefetch_data
    from mnist_sgd.course.runner import run_course
    os.environ['FASTAI_HOME'] = fastai_home; fastai_cfg.cache_clear()
    env = {'MNIST_SGD_SOURCE': source, 'MNIST_SGD_DEVICE': device_arg, 'FASTAI_HOME': fastai_home}
    samples, stop = [], threading.Event()
    def sample():
        while not stop.is_set(): samples.append(_descendants_rss()); stop.wait(0.25)
    sampler = threading.Thread(target=sample, daemon=True)
    t0 = time.perf_counter(); sampler.start()
    if jobs > 1:  # as `mnist-sgd course --jobs` does
        env['OMP_NUM_THREADS'] = os.environ.get('OMP_NUM_THREADS') or str(max(1, (os.cpu_count() or 1) // jobs))
        _prefetch_data(source)
    runs = run_course(lessons, env, jobs=jobs)
    wall = time.perf_counter() - t0; stop.set(); sampler.join()
    return runs, wall, max(samples, default=0)


def bench_course(device_arg, jobs, real=None, only=None):
    "Every lesson through the runner, on the embedded subset and on real-size data; per-lesson times side by side."
    from mnist_sgd.course.lessons import course_notebooks, find_nbs
    from mnist_sgd.course.runner import fmt_result
    lessons = course_notebooks(find_nbs(), only)
    home, what = _real_size_home(real)
    sets = {'embedded': _course_once(lessons, 'embedded', tempfile.mkdtemp(prefix='bench_fastai_'), device_arg, jobs)}  # a fresh data folder, as on a new machine
    if home: sets['real-size'] = _course_once(lessons, 'fastai', home, device_arg, jobs)
    names = list(sets)
    print(f'\n## The whole course through the runner: {len(lessons)} lessons, device={device_arg}, jobs={jobs}, {os.cpu_count()} CPU cores')
    print(f'embedded: the 1,000-image subset inside the package; real-size: {what}\n')
    print('| lesson | ' + ' | '.join(f'{n} s | {n} status' for n in names) + ' |\n|---|' + '---:|---|' * len(names))
    for i, lesson in enumerate(lessons):
        print(f'| {lesson.stem} | ' + ' | '.join(f'{sets[n][0][i].seconds:.1f} | {sets[n][0][i].status}' for n in names) + ' |')
    targets = {'embedded': 45, 'real-size': 90}
    for n in names:
        runs, wall, peak = sets[n]
        slow = [r.path.stem for r in runs if n == 'real-size' and r.seconds > 30]
        target = f' (target ≤ {targets[n]} s: {"met" if wall <= targets[n] else "MISSED"})' if only is None else ''
        print(f'\n{n}: wall time {wall:.1f} s{target}, '
              f'{sum(r.ok for r in runs)}/{len(runs)} lessons ok, peak memory of all kernels at once {peak/2**20:.0f} MiB (sampled)'
              + (f'; lessons over 30 s: {", ".join(slow)}' if slow else ''))
    print('\n### Key results per data set\n')
    print('| lesson | ' + ' | '.join(names) + ' |\n|---|' + '---|' * len(names))
    for i, lesson in enumerate(lessons):
        cell = lambda n: ', '.join(f'{k}={fmt_result(v)}' for k, v in sets[n][0][i].results.items()) or '–'
        print(f'| {lesson.stem} | ' + ' | '.join(cell(n) for n in names) + ' |')
    for n in names:
        for r in sets[n][0]:
            if not r.ok: print(f'\n{n}: {r.path.name} failed in {r.error}')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', choices=('cpu', 'cuda', 'auto'), default='auto', help="'auto': CUDA when present (the course's default)")
    p.add_argument('--repeats', type=int, default=7, help='timed samples after the warm-up (median reported)')
    p.add_argument('--course', action='store_true', help='also time every lesson through the runner, on the embedded subset and on real-size data (slow)')
    p.add_argument('--real', metavar='FASTAI_HOME', help="with --course: a fastai home with real-size MNIST_SAMPLE and MNIST "
                   "(default: the current one if it has them, else a stand-in built by tests/standin.py; 'none' skips it)")
    p.add_argument('--only', metavar='LIST', help="with --course: just these lessons ('01,04', as mnist-sgd course --only)")
    p.add_argument('--course-only', action='store_true', help='with --course: skip the training and loading benchmarks')
    p.add_argument('--jobs', type=int, default=1, help='lessons run at once in --course')
    p.add_argument('--threads', type=int, help="torch CPU threads for the training loops (default: torch's choice)")
    args = p.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    from mnist_sgd.core import default_device
    device = default_device() if args.device == 'auto' else torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available(): sys.exit('--device cuda: PyTorch sees no CUDA GPU here.')
    load = f', load average {os.getloadavg()[0]:.1f} when started' if hasattr(os, 'getloadavg') else ''
    print(f'# mnist_sgd benchmark — Python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPU cores{load}'
          + (f', GPU {torch.cuda.get_device_name(0)}' if device.type == 'cuda' else ''))
    if not (args.course and args.course_only):
        bench_training(device, args.repeats)
        bench_loading(max(3, args.repeats // 2))
    if args.course: bench_course(args.device, args.jobs, args.real, args.only)


if __name__ == '__main__':
    main()
