# Two commands on a fresh machine: `make demo` and `make test`. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every test and development tool at the exact version and hash in the lock (see
# docs/testing.rst); pip installs it, uv only writes it (`make lock`).
LOCK := requirements/locked.txt
OLDEST_LOCK := requirements/oldest.txt
UV_VERSION := 0.13.9
# Both locks' command line, without the extras and the output file. PyPI only, whatever
# this machine's pip or uv configuration adds.
UV_COMPILE := env -u UV_INDEX -u UV_INDEX_URL -u UV_EXTRA_INDEX_URL -u UV_FIND_LINKS \
	$(BIN)/uv pip compile pyproject.toml --no-config --default-index https://pypi.org/simple \
	--universal --python-version 3.10 --generate-hashes --upgrade --quiet \
	--custom-compile-command "make lock"

.PHONY: demo test venv lint docs matrix bench messages mutation lock clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

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
	$(BIN)/nox -s locked

# Refresh both locks to the newest releases pyproject.toml allows (the oldest one: every
# direct dependency at its lower bound), for every platform and Python 3.10-3.13.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV_COMPILE) --extra dev -o $(LOCK)
	$(UV_COMPILE) --extra test --extra spreadsheets --extra tasks --extra analytics \
		--resolution lowest-direct -o $(OLDEST_LOCK)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(MUTATION_ARGS)

# Plant each bug of scripts/planted_bugs.py by hand, one at a time, and check that the tests
# it names fail (docs/testing.rst). PLANTED_ARGS="--only NAME" runs one; the PostgreSQL-only
# plants run when DATABASE_URL points to PostgreSQL.
.PHONY: planted
planted: $(STAMP)
	$(BIN)/python scripts/planted_bugs.py $(PLANTED_ARGS)

messages: $(STAMP)
	cd django_xunchen && ../$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete --no-location
	$(BIN)/python scripts/translate_zh.py
	cd django_xunchen && ../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) .nox dist build docs/_build .pytest_cache .ruff_cache mutants .hypothesis
