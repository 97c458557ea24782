"""The questionnaire's machinery: the answers store, grading, the graders, and the questions API (`ask`, `check`, ...).

Hand-written package marker: the modules beside it are exported from nbs/lib/quiz/*.ipynb."""
