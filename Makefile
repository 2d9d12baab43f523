# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
NADZOR := $(VENV)/bin/nadzor
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test install install-test db demo lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(PIP) install --quiet -e ".[test]"
	touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

db: install
	$(NADZOR) db upgrade

demo: db
	$(NADZOR) seed-demo

run: demo
	$(NADZOR) serve --host 127.0.0.1 --port 5000

lint: install-test
	$(VENV)/bin/ruff check engine workflows web tests

test: install-test
	$(VENV)/bin/ruff check engine workflows web tests
	$(VENV)/bin/pytest

bench: install
	$(NADZOR) bench engine --json

clean:
	rm -rf $(VENV) var
