"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto, which cannot be installed offline).

Markdown cells are copied as they are; code cells become fenced Python blocks. Before that, the addresses in the course
home are brought in line with the one place that holds the repository's address, `[project.urls] Repository` in
pyproject.toml: every install spec (`mnist_sgd[...] @ git+URL`) and every "Open in Colab" link is rewritten from it, in
nbs/index.ipynb itself. Run it after editing index.ipynb or changing the address:
    python tools/make_readme.py          # updates nbs/index.ipynb's addresses if needed, writes README.md
    python tools/make_readme.py --check  # exits 1 if README.md or the addresses in nbs/index.ipynb are out of date
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mnist_sgd.course.lessons import colab_url, repo_url  # noqa: E402

INDEX = ROOT/'nbs'/'index.ipynb'
HEADER = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'
SPEC_RE = re.compile(r'(mnist_sgd\[[\w,]+\] @ git\+)(?!https://github\.com/YOU/)(https?://[^\s"`)\]]+)')  # YOU/...: an example fork
COLAB_RE = re.compile(r'https://colab\.research\.google\.com/github/[^)\s]+?/(\d+_[\w-]+\.ipynb)')


def sync_addresses(text:str, root=ROOT) -> str:
    "`text` with every install spec and Colab link pointing where pyproject.toml's repository address says."
    url = repo_url(root)
    text = SPEC_RE.sub(lambda m: m[1] + url, text)
    return COLAB_RE.sub(lambda m: colab_url(m[1], root=root), text)


def synced_index(nb_path=INDEX) -> tuple[str, str]:
    "The notebook's text as it is, and as it should be."
    old = Path(nb_path).read_text(encoding='utf-8')
    nb = json.loads(old)
    for cell in nb['cells']:
        if cell['cell_type'] == 'markdown':
            cell['source'] = sync_addresses(''.join(cell['source'])).splitlines(keepends=True)
    return old, json.dumps(nb, indent=1, ensure_ascii=False) + '\n'


def render(nb_path=INDEX) -> str:
    "README text for the notebook at `nb_path` (with its addresses synced)."
    parts = []
    for cell in json.loads(synced_index(nb_path)[1])['cells']:
        src = ''.join(cell['source']).strip()
        if not src or src.startswith('#| hide'): continue
        parts.append(src if cell['cell_type'] == 'markdown' else f'```python\n{src}\n```')
    return HEADER + '\n\n'.join(parts) + '\n'


if __name__ == '__main__':
    text, readme = render(), ROOT/'README.md'
    old, new = synced_index()
    if '--check' in sys.argv:
        problems = []
        if old != new: problems.append("nbs/index.ipynb's install commands or Colab links do not match pyproject.toml's repository address")
        if not (readme.exists() and readme.read_text(encoding='utf-8') == text): problems.append('README.md is out of date')
        print('README.md agrees with nbs/index.ipynb and pyproject.toml' if not problems
              else '; '.join(problems) + ': run python tools/make_readme.py')
        sys.exit(1 if problems else 0)
    if old != new:
        INDEX.write_text(new, encoding='utf-8')
        print(f'updated the addresses in {INDEX}')
    readme.write_text(text, encoding='utf-8')
    print(f'wrote {readme}')
