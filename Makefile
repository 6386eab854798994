# The two commands of the quick start: `make dev` and `make test`.
# Each creates .venv on first use and installs exactly what requirements/dev.txt
# locks (versions and sha256 hashes of every file, --require-hashes), then the
# project itself with --no-deps. `make lock` regenerates the lock files.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCKS := requirements
# Hash-checked: pip refuses a file whose hash is not in the lock, and a
# dependency that is not in it.
PIP_LOCKED := $(PY) -m pip install --quiet --require-hashes

.PHONY: dev test bench lock lock-upgrade clean

$(STAMP): pyproject.toml $(LOCKS)/build.txt $(LOCKS)/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_LOCKED) -r $(LOCKS)/build.txt
	$(PIP_LOCKED) -r $(LOCKS)/dev.txt
	$(PY) -m pip install --quiet --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

dev: $(STAMP)
	$(VENV)/bin/stripay-hooks dev --simulator

test: $(STAMP)
	bash tools/ensure-promtool
	bash tools/ensure-php
	$(PY) -m pytest

bench: $(STAMP)
	$(PIP_LOCKED) -r $(LOCKS)/bench.txt
	$(PY) bench/run_all.py

# The lock files, made by uv's `pip compile` for CPython 3.11 on Linux x86_64
# (the machines and the image this runs on). `make lock` keeps the versions
# already locked and adds what pyproject.toml now asks for; `make lock-upgrade`
# moves everything to the newest releases pyproject.toml allows. Every other
# file is constrained by dev.txt, so all of them lock the same versions.
UV_VERSION := 0.13.9
LOCK_TOOL := $(VENV)/lock-tool
UV := $(LOCK_TOOL)/bin/uv
UV_COMPILE = $(UV) --no-config pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command 'make lock' $(UV_UPGRADE)

UV_STAMP := $(LOCK_TOOL)/.uv-$(UV_VERSION)

$(UV_STAMP):
	$(PYTHON) -m venv $(LOCK_TOOL)
	$(LOCK_TOOL)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	touch $@

lock: $(UV_STAMP)
	$(UV_COMPILE) pyproject.toml $(LOCKS)/build.in --extra test -o $(LOCKS)/dev.txt
	$(UV_COMPILE) pyproject.toml -c $(LOCKS)/dev.txt -o $(LOCKS)/runtime.txt
	$(UV_COMPILE) $(LOCKS)/build.in -c $(LOCKS)/dev.txt -o $(LOCKS)/build.txt
	$(UV_COMPILE) pyproject.toml $(LOCKS)/build.in --extra test --extra bench -c $(LOCKS)/dev.txt \
		-o $(LOCKS)/bench.txt

lock-upgrade:
	$(MAKE) lock UV_UPGRADE=--upgrade

clean:
	rm -rf $(VENV) .pytest_cache
