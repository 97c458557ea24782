__version__ = "0.0.1"

import warnings as _warnings
# fastai's import calls `torch.jit.script`, which PyTorch 2.14 deprecates; the warning is noise to a learner.
_warnings.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning)

# The chapter's modules sit at the top of the package (images, baseline, sgd, training, optim, nonlinear, multiclass,
# learner, beside core, checks and files); the machinery lives in subpackages (data, quiz, widgets, course).
# Modules that used to sit at the top keep working under their old names: `import mnist_sgd.graders` gives the very
# module `mnist_sgd.quiz.graders` (the same object, so patching one patches the other), with a warning naming the new place.
_MOVED = {'answers': 'quiz.answers', 'grading': 'quiz.grading', 'graders': 'quiz.graders', 'questionnaire': 'quiz.questionnaire',
          'fit_widget': 'widgets.fit', 'baseline_widget': 'widgets.baseline', 'draw_widget': 'widgets.draw',
          **{m: f'course.{m}' for m in ('lessons', 'runner', 'report', 'site', 'doctor', 'cli')}}

def _install_redirects():
    import importlib, importlib.abc, importlib.machinery, sys

    class _Alias(importlib.abc.Loader):
        def __init__(self, new): self.new = new
        def create_module(self, spec):
            _warnings.warn(f"{spec.name} moved to {self.new}: import it from there (the old name still works for now)",
                           DeprecationWarning, stacklevel=4)
            self.mod = importlib.import_module(self.new)
            self.real_spec = self.mod.__spec__
            return self.mod
        def exec_module(self, module):
            module.__spec__ = self.real_spec           # the import system set the alias's spec: put the real one back
            sys.modules[self.new] = module
        def get_code(self, fullname):                  # `python -m mnist_sgd.cli` runs the module at its new place
            return compile(f"import runpy; runpy.run_module({self.new!r}, run_name='__main__', alter_sys=True)",
                           f'<{fullname} moved to {self.new}>', 'exec')

    class _Redirect(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            head, _, old = fullname.rpartition('.')
            if head != __name__ or old not in _MOVED: return None
            return importlib.machinery.ModuleSpec(fullname, _Alias(f'{__name__}.{_MOVED[old]}'))

    if not any(type(f).__name__ == '_Redirect' for f in sys.meta_path): sys.meta_path.append(_Redirect())

_install_redirects()
