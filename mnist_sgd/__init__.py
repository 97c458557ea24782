__version__ = "0.0.1"

import warnings as _warnings
# fastai's import calls `torch.jit.script`, which PyTorch 2.14 deprecates; the warning is noise to a learner.
_warnings.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning)
