# The course book's commands. `make book` and `make test` set everything up
# on first use (a virtual environment in .venv with the pinned packages).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done

.PHONY: setup book test test-fast release grader-wheel lint benchmark clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "Set-up done: $(VENV) holds the course's packages."

book: setup
	SEQBOOK_PROGRESS=0 $(VENV)/bin/jupyter-book build . --builder html -W -n --keep-going
	@echo
	@echo "The book is built. Open $(CURDIR)/_build/html/index.html"

test: setup
	$(PY) -m pytest

# The inner loop: every test but those marked slow (under 2 minutes).
test-fast: setup
	$(PY) -m pytest -m "not slow"

release: setup
	$(PY) -m autograder release

# The grader's wheel (seqbook-grader) and the course library's, in dist/:
# what an instructor installs (README, "Instructors").
grader-wheel: setup
	$(PY) -m pip wheel --no-deps --wheel-dir dist ./grader .

lint: setup
	$(PY) -m ruff check .

benchmark: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf _build dist
