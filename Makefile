# One Makefile for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COMPAT := tests/compat
JS := clients/js
PUBLISHER := clients/publisher
JS_DIST := clients/dist
WEB := src/tocsin/web/index.html
JS_SOURCES := $(shell find $(JS)/src $(JS)/scripts -type f 2>/dev/null) $(JS)/package.json $(JS)/tsconfig.json

.DEFAULT_GOAL := help
.PHONY: help run test lint format compat-deps clean web js-test js-packages nextjs-example demo system-deps

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/tocsin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: $(BIN)/tocsin
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/tocsin web ## set up .venv and run a server (SQLite ./tocsin.db, 127.0.0.1:8000)
	$(BIN)/tocsin serve

compat-deps: ## install the Node socket.io-client used by the compatibility tests
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(COMPAT) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Node compatibility tests will be skipped"; fi

# The browser client (clients/js) and the page served at / (built into src/tocsin/web).
$(JS)/node_modules/.package-lock.json: $(JS)/package-lock.json
	npm ci --prefix $(JS) --no-audit --no-fund --loglevel=error
	touch $@

$(WEB): $(JS)/node_modules/.package-lock.json $(JS_SOURCES)
	npm run --prefix $(JS) --silent build

web: ## build the browser client and the page served at / (needs npm)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(WEB); \
	else echo "npm not found: the page at / is not built (the API works without it)"; fi

$(PUBLISHER)/node_modules/.package-lock.json: $(PUBLISHER)/package-lock.json
	npm ci --prefix $(PUBLISHER) --no-audit --no-fund --loglevel=error
	touch $@

js-test: $(JS)/node_modules/.package-lock.json $(PUBLISHER)/node_modules/.package-lock.json ## typecheck and unit-test the browser client and the publisher (node --test)
	npm run --prefix $(JS) --silent typecheck
	npm test --prefix $(JS) --silent
	npm run --prefix $(PUBLISHER) --silent typecheck
	npm test --prefix $(PUBLISHER) --silent

# npm pack runs each package's prepack (its build): the tarballs hold dist/.
js-packages: $(JS)/node_modules/.package-lock.json $(PUBLISHER)/node_modules/.package-lock.json ## npm pack @tocsin/client and @tocsin/publisher into clients/dist/ (for `npm install <tarballs>`)
	@mkdir -p $(JS_DIST)
	@for package in $(JS) $(PUBLISHER); do \
		(cd $$package && npm pack --silent --pack-destination $(abspath $(JS_DIST)) >/dev/null) || exit 1; \
	done
	@echo "In your app: npm install $(abspath $(JS_DIST))/tocsin-client-$$(node -p 'require("./$(JS)/package.json").version').tgz $(abspath $(JS_DIST))/tocsin-publisher-$$(node -p 'require("./$(PUBLISHER)/package.json").version').tgz"

# The Next.js examples (NextAuth v4, Auth.js v5): each from its own lock file, then this
# checkout's @tocsin/client and @tocsin/publisher tarballs with --no-save (a lock file would pin
# their hashes, which change with every edit of the packages, and `npm ci` would then refuse them).
NEXTJS_APPS := examples/nextjs examples/nextjs-authjs
PUBLISHER_SOURCES := $(shell find $(PUBLISHER)/src $(PUBLISHER)/scripts -type f 2>/dev/null) $(PUBLISHER)/package.json $(PUBLISHER)/tsconfig.json
version = $(shell node -p 'require("./$(1)/package.json").version')
.PRECIOUS: examples/%/node_modules/.package-lock.json examples/%/node_modules/.tocsin-packages

$(JS_DIST)/.packed: $(JS_SOURCES) $(PUBLISHER_SOURCES)
	$(MAKE) --no-print-directory js-packages >/dev/null
	touch $@

examples/%/node_modules/.package-lock.json: examples/%/package-lock.json
	npm ci --prefix examples/$* --no-audit --no-fund --loglevel=error
	touch $@

examples/%/node_modules/.tocsin-packages: examples/%/node_modules/.package-lock.json $(JS_DIST)/.packed
	npm install --prefix examples/$* --no-save --no-audit --no-fund --loglevel=error \
		$(abspath $(JS_DIST))/tocsin-client-$(call version,$(JS)).tgz \
		$(abspath $(JS_DIST))/tocsin-publisher-$(call version,$(PUBLISHER)).tgz
	touch $@

nextjs-example: ## install examples/nextjs and nextjs-authjs (npm ci, then the @tocsin packages of this checkout)
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(NEXTJS_APPS:%=%/node_modules/.tocsin-packages); \
	else echo "npm not found: the Next.js examples' browser tests will be skipped"; fi

demo: $(BIN)/tocsin web ## run the demo law firm on http://127.0.0.1:8000 (ARGS="--port 8001 --interval 3")
	$(BIN)/tocsin demo $(ARGS)

system-deps: ## install Chromium, Dovecot and nginx for the browser, IMAP and proxy tests (as root with apt-get)
	@tools/system-deps.sh

test: $(VENV)/.test-deps system-deps compat-deps bench-deps web js-test nextjs-example ## install test dependencies and run every test
	$(BIN)/pytest

lint: $(VENV)/.test-deps ## ruff and mypy --strict
	$(BIN)/ruff check src tests examples bench hatch_build.py
	$(BIN)/ruff format --check src tests examples bench hatch_build.py
	$(BIN)/mypy

format: $(VENV)/.test-deps ## apply ruff's formatting and fixes
	$(BIN)/ruff format src tests examples bench hatch_build.py
	$(BIN)/ruff check --fix src tests examples bench hatch_build.py

clean: ## remove the virtualenv, caches and Node modules
	rm -rf $(VENV) $(COMPAT)/node_modules $(JS)/node_modules $(JS)/.test-build $(JS)/dist $(PUBLISHER)/node_modules $(PUBLISHER)/.test-build $(PUBLISHER)/dist $(JS_DIST) $(NEXTJS_APPS:%=%/node_modules) $(NEXTJS_APPS:%=%/.next) src/tocsin/web test-artifacts .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (bench/): Tocsin against a reference Node socket.io server, side by side.
BENCH_NODE := bench/node-reference
.PHONY: bench bench-quick bench-deps

bench-deps: ## install the reference Node socket.io server of make bench
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(BENCH_NODE) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: make bench will measure Tocsin only"; fi

bench: $(BIN)/tocsin bench-deps ## Tocsin vs Node socket.io table, bench/results/*.json (ARGS=--quick)
	$(BIN)/python -m bench.run $(ARGS)

bench-quick: $(BIN)/tocsin bench-deps ## the benchmark's small sizes (under 2 minutes)
	$(BIN)/python -m bench.run --quick $(ARGS)

# Reliability (tests/reliability/): faults, bad input, limits and load, with figures in
# RELIABILITY.md. `make test` runs the default sizes; these run the heavier ones.
DURATION ?= 60
CONNECTIONS ?= 5000
CHAOS_CLIENTS ?= 1000
.PHONY: reliability soak

reliability: $(VENV)/.test-deps ## chaos (1,000 clients, system PostgreSQL restarted too), every fuzz, 60 s resource attacks and every test marked attack; rewrites RELIABILITY.md
	TOCSIN_SLOW=1 TOCSIN_CHAOS_CLIENTS=$(CHAOS_CLIENTS) TOCSIN_API_FUZZ_EXAMPLES=150 \
		$(BIN)/pytest tests/reliability -rA; \
		status=$$?; $(BIN)/pytest -q -m attack tests/integration tests/e2e || status=1; \
		$(BIN)/python -m tests.reliability.report; exit $$status

soak: $(VENV)/.test-deps ## CONNECTIONS sockets, publishes and churn for DURATION seconds (60): RSS and loop lag
	$(BIN)/python -m tests.reliability.soak --duration $(DURATION) --connections $(CONNECTIONS); \
		status=$$?; $(BIN)/python -m tests.reliability.report; exit $$status
