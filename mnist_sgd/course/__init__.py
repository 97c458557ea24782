"""The course tools: finding and copying the lessons, running them headless, the results report, the site, `doctor`
and the `mnist-sgd` command.

Hand-written package marker: the modules beside it are exported from nbs/lib/course/*.ipynb."""
