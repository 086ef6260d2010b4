# Two commands on a fresh machine: `make demo` and `make test`. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs matrix bench messages mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

matrix: $(STAMP)
	$(BIN)/nox -s tests

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(MUTATION_ARGS)

messages: $(STAMP)
	cd django_xunchen && ../$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete --no-location
	$(BIN)/python scripts/translate_zh.py
	cd django_xunchen && ../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) .nox dist build docs/_build .pytest_cache .ruff_cache mutants .hypothesis
