# Lookalike: `make run` opens the app on the sample collection, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
SAMPLE_LIBRARY ?= .sample-library

.PHONY: run test bench lint screenshots package clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.torch: | $(PY)
	$(PIP) install --quiet $(TORCH_SPEC)
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(PY) -m retrieval_app --library $(SAMPLE_LIBRARY) --add-sample

test: $(VENV)/.installed-dev
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(VENV)/.installed-dev
	$(PY) -m benchmarks.quick

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check foundation retrieval_app trainer tests benchmarks packaging resources
	$(PY) -m ruff format --check foundation retrieval_app trainer tests benchmarks packaging resources
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

screenshots: $(VENV)/.installed-dev
	bash packaging/screenshots.sh

package: $(VENV)/.installed-dev
	$(PIP) install --quiet -e '.[package]'
	$(PY) -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/lookalike.spec

clean:
	rm -rf build dist $(SAMPLE_LIBRARY) .pytest_cache
