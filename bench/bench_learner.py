"""Time our hand-written `mnist_sgd.learner.Learner` against fastai's `Learner`, per epoch, in one process.

The data is MNIST_SAMPLE-sized: the real threes and sevens when fastai's download is already on disk (nothing is downloaded),
otherwise random pixels of the same shape (12,396 training and 2,038 validation images of 784 pixels), which costs the same
to train on. The model is the chapter's linear model with `mnist_loss`, plain SGD, `batch_accuracy` as the metric, and no
progress bars or logging on either side.

Three pairings are timed, each as milliseconds per epoch: the best of `--repeats` runs of `--epochs` epochs, after a one-epoch
warm-up, with the two learners' runs interleaved so that a busy machine slows both alike:

- natural: each learner with its natural loader: ours on `TensorBatches`, fastai's on a fastai `DataLoader` (as in the chapter);
- same loader, fastai DataLoader: both on the same fastai `DataLoaders`, so only the learners differ;
- same loader, TensorBatches: both on the same `TensorBatches`.

    python bench/bench_learner.py [--epochs 10] [--repeats 5] [--bs 256] [--device cpu] [--threads N]

On a small machine shared with other work, PyTorch's CPU threads can wait on each other; `--threads 1` gives steadier figures.
"""
from __future__ import annotations
import argparse, platform, sys, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore')
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import training_data  # bench/bench.py, beside this script: the same MNIST_SAMPLE-sized data


def ms_per_epoch(fits, epochs:int, repeats:int) -> list[float]:
    "For each function in `fits`, the best over `repeats` of the milliseconds per epoch of `fit(epochs)`; runs are interleaved."
    for fit in fits: fit(1)  # warm-up
    times = [[] for _ in fits]
    for _ in range(repeats):
        for fit, ts in zip(fits, times):
            start = time.perf_counter(); fit(epochs)
            ts.append((time.perf_counter() - start) / epochs * 1000)
    return [min(ts) for ts in times]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--epochs', type=int, default=10, help='epochs per timed run')
    p.add_argument('--repeats', type=int, default=5, help='timed runs per learner (the best is reported)')
    p.add_argument('--bs', type=int, default=256, help='batch size')
    p.add_argument('--device', default=None, help="'cpu' or 'cuda'; default: mnist_sgd.core.default_device()")
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: leave as is)')
    args = p.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)

    from fastai.data.core import DataLoaders
    from fastai.data.load import DataLoader
    from fastai.learner import Learner as FastaiLearner
    from fastai.optimizer import SGD
    import fastai.callback.progress  # noqa: F401  (Learner.no_bar)
    from mnist_sgd.core import default_device
    from mnist_sgd.learner import Learner
    from mnist_sgd.optim import BasicOptim
    from mnist_sgd.training import mnist_loss, batch_accuracy, TensorBatches

    device = default_device() if args.device is None else torch.device(args.device)
    xs, ys, vxs, vys, what = training_data()
    print(f'data: {what}: {len(xs):,} train / {len(vxs):,} valid, bs={args.bs}')
    print(f'device: {device}; torch {torch.__version__}, {torch.get_num_threads()} threads; python {platform.python_version()}')
    print(f'{args.epochs} epochs per run, best of {args.repeats} runs\n')

    def fastai_dls():
        return DataLoaders(DataLoader(list(zip(xs, ys)), bs=args.bs, shuffle=True),
                           DataLoader(list(zip(vxs, vys)), bs=args.bs), device=device)
    def tensor_dls():
        return TensorBatches(xs, ys, bs=args.bs, seed=0, device=device), TensorBatches(vxs, vys, bs=args.bs, shuffle=False, device=device)

    def ours(dls):
        learn = Learner(dls, nn.Linear(784, 1), mnist_loss, opt_func=BasicOptim, metrics=batch_accuracy, device=device, progress=False)
        return lambda n: learn.fit(n, lr=1.)
    def theirs(dls):
        if isinstance(dls, tuple): dls = DataLoaders(*dls, device=device)
        learn = FastaiLearner(dls, nn.Linear(784, 1), opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
        def fit(n):
            with learn.no_bar(), learn.no_logging(): learn.fit(n, lr=1.)
        return fit

    rows = []
    for name, ours_dls, theirs_dls in (('natural loaders (ours: TensorBatches, fastai: DataLoader)', tensor_dls, fastai_dls),
                                       ('same loader: fastai DataLoader', fastai_dls, fastai_dls),
                                       ('same loader: TensorBatches', tensor_dls, tensor_dls)):
        t_ours, t_theirs = ms_per_epoch([ours(ours_dls()), theirs(theirs_dls())], args.epochs, args.repeats)
        rows.append((name, t_ours, t_theirs))

    w = max(len(r[0]) for r in rows)
    print(f'{"pairing":<{w}}  {"ours ms/epoch":>13}  {"fastai ms/epoch":>15}  {"fastai/ours":>11}')
    for name, a, b in rows: print(f'{name:<{w}}  {a:13.1f}  {b:15.1f}  {b / a:10.2f}x')
    return rows


if __name__ == '__main__':
    main()
