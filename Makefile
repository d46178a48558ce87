# The course book's commands. `make book` and `make test` set everything up
# on first use (a virtual environment in .venv with the pinned packages).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
# Where torch comes from first. Empty: pip's usual index (the CPU build on
# macOS and Windows, and wherever pip is set up to offer it, as on this
# course's machines; a CUDA build of several GB on other Linux). For the
# CPU build on Linux:
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
# The tests' fresh virtual environments install torch the same way.
export TORCH_INDEX

.PHONY: setup sandbox-tool book test test-fast release publish wheels grader-wheel lint benchmark clean translations check-translations

setup: $(STAMP) sandbox-tool

# The grader's sandbox is Debian's bubblewrap (README, "What the grader
# defends against"): installed with apt-get when it is missing and we are
# root (as on CI); elsewhere a note says how to get it.
sandbox-tool:
	@command -v bwrap >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || \
	echo "note: bubblewrap (bwrap) is missing: the grader cannot sandbox students' kernels (apt-get install bubblewrap, as root)"

$(STAMP): requirements.txt constraints.txt pyproject.toml VERSION
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PY) -m pip install --quiet torch -c constraints.txt --extra-index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "Set-up done: $(VENV) holds the course's packages."

# Both editions: the English at _build/html, then the Korean at
# _build/html/ko from the same execution cache (python -m i18n build).
book: setup
	SEQBOOK_PROGRESS=0 $(VENV)/bin/jupyter-book build . --builder html -W -n --keep-going
	SEQBOOK_PROGRESS=0 $(PY) -m i18n build
	@echo
	@echo "The book is built. Open $(CURDIR)/_build/html/index.html"
	@echo "(Korean edition: $(CURDIR)/_build/html/ko/index.html)"

# After the English changed: the catalogs of locale/ko/LC_MESSAGES updated
# (README, "The Korean edition"); then translate, and check.
translations: setup
	SEQBOOK_PROGRESS=0 $(PY) -m i18n update

check-translations: setup
	$(PY) -m i18n check --summary

# Two processes, sharing out the tests by scope (tests/conftest.py).
test: setup
	$(PY) -m pytest -n 2

# The inner loop: every test but those marked slow (under 2 minutes).
test-fast: setup
	$(PY) -m pytest -n 2 -m "not slow"

release: setup
	$(PY) -m autograder release
	$(PY) -m i18n release

# The grader's wheel (seqbook-grader) and the course library's, in dist/:
# what an instructor installs (README, "Instructors").
grader-wheel: setup
	$(PY) -m pip wheel --no-deps --wheel-dir dist ./grader .

# The student tree in _publish/: the site, the notebooks, the course
# library's wheel and source, binder/ (README, "Publishing").
publish: book
	$(PY) -m publish

# Every wheel of publish/wheels.py in dist/ (the grader's is for
# instructors: never published).
wheels: setup
	$(PY) -m publish --wheels dist

lint: setup
	$(PY) -m ruff check .

benchmark: setup
	$(PY) benchmarks/run.py
	$(PY) benchmarks/packaging.py

clean:
	rm -rf _build _publish dist
