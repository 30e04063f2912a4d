# verify: the targets a newcomer can guess. `make demo` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := .verify/demo
ROWS   ?= 20000

.PHONY: demo test test-fast bench lint fmt clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

BENCH_STAMP := .venv-bench/.installed-stamp
$(BENCH_STAMP): pyproject.toml
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --upgrade pip
	.venv-bench/bin/python -m pip install --quiet 'datacompy>=0.16' 'connectorx>=0.4.1' 'polars>=1.20,<2'
	touch $(BENCH_STAMP)

## demo: build the DFP -> F1 scenario into SQLite files, diff it and gate rollout stage 1 (no server needed)
demo: $(STAMP)
	@mkdir -p $(DEMO)
	$(BIN)/verify scenario build dfp_to_f1 --rows $(ROWS) --seed 1 \
	  --old sqlite:///$(DEMO)/old.db --new sqlite:///$(DEMO)/new.db
	$(BIN)/verify diff --mapping mappings/dfp_to_f1.yaml \
	  --old sqlite:///$(DEMO)/old.db --new sqlite:///$(DEMO)/new.db \
	  || test $$? -eq 1  # exit 1 = blocking differences found, which is the point of the demo
	$(BIN)/verify gate --run .verify/runs/latest --policy scenarios/dfp_to_f1/rollout.yaml --stage 1 \
	  || test $$? -eq 1  # exit 1 = the gate says FAIL (or INCONCLUSIVE): the verdict is what the demo shows
	$(BIN)/verify report --run .verify/runs/latest --html $(DEMO)/report.html --markdown $(DEMO)/report.md
	@echo "HTML report: $(abspath $(DEMO)/report.html)"

## test: the whole suite, real MariaDB and PostgreSQL included
test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

## bench: verify diff against the raw read of both sides and datacompy (needs both servers)
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check verify tests bench
	$(BIN)/ruff format --check verify tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix verify tests bench
	$(BIN)/ruff format verify tests bench

clean:
	rm -rf $(VENV) .venv-bench .verify .pytest_cache .mypy_cache .ruff_cache .hypothesis
