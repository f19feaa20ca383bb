# Two entry points for a fresh machine:
#   make demo   -> set up the environment, run the synthetic benchmark end to end
#   make test   -> set up the environment, run the test suite
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint setup clean-demo

$(VENV)/.mtbench-installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel setuptools
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.mtbench-installed

demo: setup
	$(PY) tools/demo.py

test: setup
	$(PY) -m pytest -q tests

lint: setup
	$(PY) -m ruff check mtbench tools tests

clean-demo:
	rm -rf data/synthetic work_dirs/demo work_dirs/pretrain
