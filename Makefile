# One command sets up and runs each job: `make demo` (the EmoDB recipe) and `make test` (the test suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test demo demo-data bench probe clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

EMODB_DIR ?= $(or $(EMODB),../shared/data/emodb)
EMODB_URL := http://emodb.bilderbar.info/download/download.zip

# before the install: with no corpus here and no network, say so in one line instead of failing minutes later
demo-data:
	@test -d "$(EMODB_DIR)" || python3 -c "import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], method='HEAD'), timeout=10)" "$(EMODB_URL)" 2>/dev/null \
	  || { echo "make demo: no EmoDB at $(EMODB_DIR) and $(EMODB_URL) is not reachable: run EMODB=/path/to/emodb make demo (the folder of EmoDB's wav files)"; exit 1; }

demo: demo-data $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash recipes/emodb/run.sh --emodb-dir "$(EMODB_DIR)" --configs "svm gagru_demo"

bench: $(STAMP)
	$(BIN)/python benchmarks/extract.py
	$(BIN)/python benchmarks/train.py

# every fault class of issue 14 end to end (hostile input, broken files, full disk, kill -9): one line per probe,
# then "tried N / handled H / failed F"; exit 1 when any probe fails
probe: $(STAMP)
	$(BIN)/python benchmarks/probe.py

clean:
	rm -rf $(VENV) build *.egg-info
