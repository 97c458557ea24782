"""Insert (or update) the hidden Colab setup cell as the first code cell of each lesson.

The cell installs the course when the notebook runs on Google Colab and does nothing anywhere else (a laptop, CI,
`mnist-sgd course`); it asks for no Google Drive access. Its code is `mnist_sgd.course.lessons.colab_cell_source`.

    python tools/colab_cell.py                    # every lesson: nbs/[0-9]*.ipynb
    python tools/colab_cell.py nbs/04_mnist_loss.ipynb --spec "mnist_sgd[course] @ git+https://github.com/OWNER/REPO"
    python tools/colab_cell.py --check            # exit 1 if a lesson lacks the cell or has an old one (changes nothing)
"""
import argparse, sys, shutil, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mnist_sgd.course.lessons import COURSE_SPEC, add_colab_cell  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='*', help='lesson notebooks (default: nbs/[0-9]*.ipynb)')
    p.add_argument('--spec', default=COURSE_SPEC, help=f'what pip installs on Colab (default: {COURSE_SPEC!r})')
    p.add_argument('--check', action='store_true', help='only report; exit 1 if any notebook would change')
    args = p.parse_args(argv)
    nbs = [Path(n) for n in args.notebooks] or sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))
    changed = 0
    for nb in nbs:
        if args.check:  # try it on a copy
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp)/nb.name; shutil.copy(nb, copy)
                status = add_colab_cell(copy, args.spec)
            status = {'added': 'lacks the cell', 'updated': 'has an old cell'}.get(status, 'up to date')
        else: status = add_colab_cell(nb, args.spec)
        changed += status not in ('unchanged', 'up to date')
        print(f'{nb}: {status}')
    return 1 if args.check and changed else 0


if __name__ == '__main__':
    sys.exit(main())
