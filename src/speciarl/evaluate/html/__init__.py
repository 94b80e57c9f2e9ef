"""Self-contained HTML pages for reading what a model answered: the evaluation report
(`report_page`), two runs side by side (`compare_page`, `compare_figure`) and a training run's
rollouts (`rollouts_page`). Each page is one offline file rendered from a Jinja2 template in
``templates/``: CSS, scripts, plots and image thumbnails inline, no network."""
