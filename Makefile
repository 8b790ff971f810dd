# `make demo` and `make test` set up everything they need in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# AppInspect pins exact old releases (chardet 3.0.4, which requests would then prefer,
# beautifulsoup4 4.10.0, ...): a venv of its own keeps them out of the one under test.
APPINSPECT_VENV := .venv-appinspect
APPINSPECT_STAMP := $(APPINSPECT_VENV)/.installed

# Splunk's own SOAR SDK checks the SOAR app (its manifest models, `soarapps convert`, its phantom
# shims): it needs Python 3.13 (pyenv's, or SOARSDK_PYTHON) and a venv of its own; `soarapps convert`
# sets up the converted app's project with uv.
SOARSDK_PYTHON ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)/versions/3.13.0/bin/python3.13
SOARSDK_VENV := .venv-soarsdk
SOARSDK_STAMP := $(SOARSDK_VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: demo lint test test-fast soak clean bench chromium

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/spectra-connector demo

$(APPINSPECT_STAMP):
	$(PYTHON) -m venv $(APPINSPECT_VENV)
	$(APPINSPECT_VENV)/bin/python -m pip install --quiet splunk-appinspect==4.3.1
	touch $@

$(SOARSDK_STAMP):
	$(SOARSDK_PYTHON) -m venv $(SOARSDK_VENV)
	$(SOARSDK_VENV)/bin/python -m pip install --quiet splunk-soar-sdk==7.0.3 uv==$(UV_VERSION)
	touch $@

# The SOAR app's result view and the Splunk app's configuration page are tested in headless Chromium,
# the latter driven through chromedriver (Debian's packages; CI runs as root).
chromium:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; }

# Four workers: most tests wait on processes and sockets, not on the 2 cores.
PYTEST_WORKERS ?= 4

# The gate: ruff's lint and format check, and mypy on connector/ (configured in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(APPINSPECT_STAMP) $(SOARSDK_STAMP) chromium
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

# The in-process tests only (no app builds, no command processes): the loop while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow"

# A million events through the built Splunk command, 1% of the appliance's answers faulty
# (about two minutes): every event must come out and the command's memory stay flat.
soak: $(STAMP)
	$(BIN)/python tests/soak.py --events 1000000

# Benchmarks are not tests: their own venv, with the vendor SDK to compare against.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_ARGS ?=

$(BENCH_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(APPINSPECT_VENV) $(BENCH_VENV) $(SOARSDK_VENV) build dist *.egg-info
