# Qunyun developer commands. `make run` and `make test` work on a fresh checkout.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install run demo serve test lint fmt migrate bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# Run the bot on SQLite with the demo community and the console sender.
run: install
	$(BIN)/qunyun demo
	$(BIN)/qunyun serve

# Every test, on SQLite and then on a throwaway PostgreSQL.
test: install
	PYTEST=$(BIN)/pytest scripts/test.sh

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy app tests bench

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install
	$(BIN)/qunyun db upgrade

bench: install
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data .pg-test .mypy_cache .ruff_cache .pytest_cache
