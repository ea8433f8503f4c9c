# Two commands a fresh clone needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck ingest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot ingest
	$(BIN)/python -m bot run

test: $(STAMP)
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto

lint: $(STAMP)
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/ruff format --check bot tests benchmarks

ingest: $(STAMP)
	$(BIN)/python -m bot ingest

bench: $(STAMP)
	$(BIN)/python benchmarks/catalogue.py
	$(BIN)/python benchmarks/topic_names.py
	$(BIN)/python benchmarks/bot.py
	$(BIN)/python benchmarks/push.py
	$(BIN)/python benchmarks/refresh.py
	$(BIN)/python benchmarks/translate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
