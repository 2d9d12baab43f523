# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
NADZOR := $(VENV)/bin/nadzor
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

VIEWER := web/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js
# the editors (bpmn-js Modeler + properties panel + bpmnlint, form-js editor, dmn-js), bundled
# from assets/ by esbuild at make time (assets/build.mjs prints how long each bundle takes)
EDITORS := web/static/vendor/nadzor-modeler/modeler.js web/static/vendor/nadzor-form-editor/form-editor.js web/static/vendor/nadzor-dmn/dmn-modeler.js
ASSETS := $(VIEWER) $(EDITORS)

.PHONY: run test testdb install install-test db demo lint bench clean assets browser translations messages

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(PIP) install --quiet -e ".[test]"
	touch $(TEST_STAMP)

# bpmn.io libraries and Chart.js from npm (package-lock.json pins them), served by the app itself
$(VIEWER): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p web/static/vendor/bpmn-js
	cp node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js web/static/vendor/bpmn-js/
	cp -r node_modules/bpmn-js/dist/assets/* web/static/vendor/bpmn-js/
	mkdir -p web/static/vendor/chart.js
	cp node_modules/chart.js/dist/chart.umd.min.js web/static/vendor/chart.js/

$(EDITORS) &: $(VIEWER) $(wildcard assets/*)
	node assets/build.mjs

assets: $(ASSETS)

# axe-core (a devDependency in package.json) for the accessibility tests, which read it straight
# from node_modules; it is never served. `npm ci` above installs it; run again if it is missing.
AXE := node_modules/axe-core/axe.min.js
$(AXE): $(ASSETS)
	test -f $@ || npm ci --no-audit --no-fund --loglevel=error
	touch $@

# UI catalogues: English message ids, Russian and Kazakh translations (web/translations/*.po)
translations: install
	$(VENV)/bin/pybabel compile -d web/translations --statistics

# after changing UI strings: re-extract and merge into the catalogues, then translate the gaps
messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k lazy_gettext --no-location --sort-output -o web/translations/messages.pot web
	$(VENV)/bin/pybabel update -i web/translations/messages.pot -d web/translations

# browser tests drive Debian's Chromium (Playwright's own download is not reachable here)
CHROMIUM := /usr/lib/chromium/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core

browser: $(CHROMIUM)

install: $(STAMP)

install-test: $(TEST_STAMP)

db: install
	$(NADZOR) db upgrade

demo: db
	$(NADZOR) seed-demo

# development mode (NADZOR_DEV=1): without NADZOR_SECRET_KEY a random session key is
# generated once into var/secret_key; `nadzor serve` anywhere else refuses to start without one
# checkpoints are signed with a development key generated once into var/audit_key.pem and copied
# to var/audit_checkpoints.log (a server keeps both off the database host: NADZOR_AUDIT_KEY/_LOG)
AUDIT_KEY ?= var/audit_key.pem
$(AUDIT_KEY): | install
	$(NADZOR) audit keygen $(AUDIT_KEY)

run: demo assets translations $(AUDIT_KEY)
	NADZOR_DEV=1 NADZOR_AUDIT_KEY=$(AUDIT_KEY) NADZOR_AUDIT_LOG=var/audit_checkpoints.log $(NADZOR) serve --host 127.0.0.1 --port 5000

lint: install-test
	$(VENV)/bin/ruff check engine workflows web tests

# the PostgreSQL database of the tests (NADZOR_TEST_PG_URL, default .../test) is created when
# it is missing; each test makes its own schema in it
testdb: install-test
	$(PY) -m tests.ensure_pg_database

# the browser tests write screenshots of every page in every language to var/screenshots/
test: install-test assets $(AXE) browser translations testdb
	$(VENV)/bin/ruff check engine workflows web tests
	$(VENV)/bin/pytest

bench: install
	$(NADZOR) bench engine --json

clean:
	rm -rf $(VENV) var node_modules web/static/vendor
