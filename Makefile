# crm_api — `make run` serves on 127.0.0.1:8000 with SQLite; `make test` runs every suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install run test test-sqlite test-postgres fuzz bench load openapi lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: install
	$(VENV)/bin/crm-api migrate
	$(VENV)/bin/crm-api demo --if-empty
	$(VENV)/bin/crm-api serve --host 127.0.0.1 --port 8000

# Both stores by default; CRM_TEST_STORES=sqlite or =postgres runs one. Tests run in
# CRM_TEST_WORKERS processes (pytest-xdist; default 2, one per core here; 0 = in this process).
TEST_WORKERS := -n $${CRM_TEST_WORKERS:-2}
test: install
	$(PY) -m pytest $(TEST_WORKERS)

test-sqlite: install
	CRM_TEST_STORES=sqlite $(PY) -m pytest $(TEST_WORKERS)

test-postgres: install
	CRM_TEST_STORES=postgres $(PY) -m pytest $(TEST_WORKERS)

# Long property runs (random command sequences) and schemathesis against openapi/openapi.json
# and openapi/schema.graphql; `make test` runs a bounded smoke of the same (docs/testing.md).
fuzz: install
	CRM_FUZZ_EXAMPLES=$${CRM_FUZZ_EXAMPLES:-200} CRM_FUZZ_STEPS=$${CRM_FUZZ_STEPS:-50} \
		$(PY) -m pytest $(TEST_WORKERS) tests/api/test_quote_properties.py \
		tests/api/test_fuzz_rest.py tests/api/test_fuzz_graphql.py

bench: install
	$(PY) benchmarks/run.py

# Mixed read/write load on `crm-api serve` (loopback, open-loop): p50/p95/p99, errors, lag p99.
# LOAD_STORE=sqlite|postgres, LOAD_SECONDS (30), LOAD_RATE (requests/s, 200).
load: install
	$(PY) benchmarks/load.py --store $${LOAD_STORE:-sqlite} --seconds $${LOAD_SECONDS:-30} \
		--rate $${LOAD_RATE:-200}

openapi: install
	$(PY) -m crm_api.api.export

lint: install
	$(VENV)/bin/ruff check src tests benchmarks migrations
	$(VENV)/bin/mypy

clean:
	rm -rf var .pytest_cache
