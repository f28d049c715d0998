# kcore: `make test` is what CI runs; `make demo` shows the store at work; `make bench` measures.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench lint typecheck layers pytest clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	bash scripts/install-peers.sh
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/ruff format --check src tests benchmarks examples scripts
	$(VENV)/bin/mypy --strict src
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/ruff format --check src tests benchmarks examples scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src

layers: $(STAMP)
	$(VENV)/bin/lint-imports

pytest: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) examples/store_walkthrough.py
	$(PY) examples/bucket_operator.py

bench: $(STAMP)
	$(PY) benchmarks/store_bench.py
	$(PY) benchmarks/etcd_bench.py
	$(PY) benchmarks/durable_bench.py
	$(PY) benchmarks/objects_bench.py
	$(PY) benchmarks/interfaces_bench.py
	$(PY) benchmarks/api_bench.py
	$(PY) benchmarks/reconcile_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
