# `make demo` and `make test` each build .venv by themselves from pinned versions.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# checkov pins a boto3 of its own: the template's rule suites get a virtualenv of their own.
TOOLS  := .tools
TOOLS_STAMP := $(TOOLS)/.installed-stamp

.PHONY: demo serve test test-fast lint typecheck unit template bench clean
# The dashboard's browser tests and the demo's screenshots use Debian's chromium and its
# matching chromedriver (Selenium drives it; nothing is downloaded at run time).
BROWSER := /usr/bin/chromedriver
# axe-core checks the dashboard's accessibility in the browser tests: npm installs the version
# tests/e2e/axe/package-lock.json pins (npm ci; nothing is downloaded at test time).
AXE     := tests/e2e/axe/node_modules/axe-core/axe.min.js
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(TOOLS_STAMP): tools-constraints.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -c tools-constraints.txt checkov cfn-lint-serverless
	touch $(TOOLS_STAMP)

$(BROWSER):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null

$(AXE): tests/e2e/axe/package.json tests/e2e/axe/package-lock.json
	command -v npm >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null)
	npm ci --prefix tests/e2e/axe --no-audit --no-fund --silent
	touch $(AXE)

demo: $(STAMP) $(BROWSER)
	$(BIN)/fanmail demo --out demo-out
	$(BIN)/python scripts/screenshots.py --out demo-out/screens

serve: $(STAMP)
	$(BIN)/fanmail serve $(ARGS)

# The static checks run side by side (each uses one core; output kept per check), then the suite.
test: $(STAMP) $(TOOLS_STAMP)
	$(MAKE) --no-print-directory -j3 -Otarget lint typecheck template
	$(MAKE) --no-print-directory unit

# The inner loop: the domain, the services on simulated time, each port's in-memory adapter,
# the architecture; not the stand-in, real threads, the template, the browser or the soak, and
# each property tried 30 times at most (`make test` runs every tier in full). pyproject.toml
# lists the markers; tests/conftest.py assigns them.
FAST := not (integration or e2e or faults or api or deploy or iam or aws or stack or local or slow)
test-fast: $(STAMP)
	FANMAIL_TEST_TIER=fast $(BIN)/pytest -n 2 -q -m "$(FAST)"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

template: $(STAMP) $(TOOLS_STAMP)
	mkdir -p build
	$(BIN)/python scripts/validate_template.py template.yaml --out build/template.json
	$(TOOLS)/bin/python scripts/check_template_rules.py build/template.json template-findings.yaml

# worksteal: a worker out of tests takes half of what the other has queued (the long tests
# run first: tests/conftest.py orders them).
unit: $(STAMP) $(TOOLS_STAMP) $(BROWSER) $(AXE)
	$(BIN)/pytest -n 2 --dist worksteal -q

bench: $(STAMP)
	$(BIN)/python bench/fanout.py --subscribers 20000 --rate 500 --latency-ms 60

clean:
	rm -rf $(VENV) $(TOOLS) build demo-out .mypy_cache .ruff_cache .pytest_cache tests/e2e/axe/node_modules
