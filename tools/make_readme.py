"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto, which cannot be installed offline).

Markdown cells are copied as they are; code cells become fenced Python blocks. Run it after editing index.ipynb:
    python tools/make_readme.py          # writes README.md
    python tools/make_readme.py --check  # exits 1 if README.md is out of date
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'


def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    "README text for the notebook at `nb_path`."
    parts = []
    for cell in json.loads(Path(nb_path).read_text(encoding='utf-8'))['cells']:
        src = ''.join(cell['source']).strip()
        if not src or src.startswith('#| hide'): continue
        parts.append(src if cell['cell_type'] == 'markdown' else f'```python\n{src}\n```')
    return HEADER + '\n\n'.join(parts) + '\n'


if __name__ == '__main__':
    text, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text(encoding='utf-8') == text
        print('README.md agrees with nbs/index.ipynb' if ok else 'README.md is out of date: run python tools/make_readme.py')
        sys.exit(0 if ok else 1)
    readme.write_text(text, encoding='utf-8')
    print(f'wrote {readme}')
