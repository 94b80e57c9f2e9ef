# The whole set-up: `make demo` runs the main job, `make test` runs the tests.
# Both create ./.venv on first use and refresh it when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint redis-server chromium

demo: $(STAMP)
	$(VENV)/bin/speciarl demo --out runs/demo

test: $(STAMP) redis-server chromium
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

# torch and torchvision are pinned to the releases that lie on this machine kind's disk (pip takes
# them from there, no multi-GB download); on other machines pick the build for your CUDA.
TORCH := torch==2.14.1 torchvision==0.29.1

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet $(TORCH)
	$(VENV)/bin/python -m pip install --quiet -e '.[dev,train,verl-cpu]'
	$(VENV)/bin/python -m pip install --quiet --no-deps verl==0.9.1  # pins transformers<5.11: deps via verl-cpu
	touch $(STAMP)

# The Redis cache's tests start their own throwaway server; install Debian's if it is missing.
redis-server:
	@command -v redis-server >/dev/null || (apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		redis-server >/dev/null)

# The HTML pages' tests (tests/test_html_pages.py) load them in headless Chromium; install
# Debian's if it is missing.
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium >/dev/null)
