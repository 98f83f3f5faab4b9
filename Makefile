# Two commands do everything: `make demo` runs the software, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint messages browser

$(BIN)/benevalibre: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/benevalibre

demo: install
	$(BIN)/benevalibre demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

browser: install
	$(BIN)/pytest tests/browser

messages: install
	$(BIN)/python tools/messages.py
