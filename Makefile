# Two commands do all set-up on a fresh machine with Python 3.10+:
#   make demo   - create .venv, install, run the main job on the bundled sample log
#   make test   - install the test extras and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-pythons lint bench lab notebook clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "error: Python 3.10 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's python3-venv (needed for virtual environments)"; \
	    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu run: sudo apt-get install python3-venv"; exit 1; \
	  fi; }
	@$(BIN)/python -m pip install -qq --upgrade pip

# -qq: pip's errors only; setuptools' notes on editable installs are not the admin's concern.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	@echo "Installing loganalyze and its dependencies into $(VENV)"
	@$(BIN)/pip install -qq -e .
	@touch $@

# The ban-tool cross-check is tested against Debian's real fail2ban (tests/test_bans.py),
# helo_access tables against postfix's postmap (tests/test_output_details.py).
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	@command -v fail2ban-regex >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's fail2ban (the tests check ban claims against it)"; \
	    (apt-get install -y -qq fail2ban || { apt-get update -qq && apt-get install -y -qq fail2ban; }) >/dev/null; \
	  else \
	    echo "error: the tests need fail2ban; on Debian/Ubuntu run: sudo apt-get install fail2ban"; exit 1; \
	  fi; }
	@command -v /usr/sbin/postmap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's postfix (the tests check helo_access tables with its postmap)"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix; }) >/dev/null; \
	  else \
	    echo "error: the tests need postfix's postmap; on Debian/Ubuntu run: sudo apt-get install postfix"; exit 1; \
	  fi; }
	@touch $@

# The compiled core (issue 17): the system C compiler, else the ziglang package from the
# package index; without either, analyze runs on its Python core and says so.
CORE := loganalyze/core/_loganalyze_core.so
$(CORE): $(wildcard loganalyze/core/*.c loganalyze/core/*.h) loganalyze/core/build.py $(VENV)/.installed
	@$(BIN)/python -m loganalyze.core.build --fetch-toolchain

demo: $(VENV)/.installed $(CORE)
	$(BIN)/analyze fixtures/mail.log --suggest --no-dns --postfix-config fixtures/postfix --year 2026

test: $(VENV)/.installed-test $(CORE)
	$(BIN)/pytest -q -n auto
	$(BIN)/ruff check loganalyze tests notebooks
	$(BIN)/mypy

# The core tests and identical analyze output on every other Python this machine has
# (Debian's /usr/bin/python3, pyenv's 3.10, 3.12, 3.13); CI runs it after make test.
test-pythons: $(VENV)/.installed-test
	.ci/every-python

# The throughput/memory benchmark (issue 8): generates 1M- and 5M-line logs (about 900 MB
# in tests/benchmarks/data/, git-ignored) and times analyze, the first report, grep and
# pflogsumm on them.
# Then the cluster backend (issue 18): 8 hosts' logs, --jobs 2 against a local Dask cluster.
bench: $(VENV)/.installed $(CORE)
	$(BIN)/python tests/benchmarks/run_bench.py $(BENCH_ARGS)
	$(BIN)/pip install -q -e '.[cluster]'
	$(BIN)/python tests/benchmarks/bench_cluster.py $(CLUSTER_BENCH_ARGS)

# Open the notebooks in JupyterLab (installs the notebooks extra first).
notebook: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[notebooks]'
	$(BIN)/jupyter lab notebooks/

# Regenerate fixtures/lab/recorded from the real Postfix (root, Debian 12; not part of `make test`).
lab:
	$(if $(filter 0,$(shell id -u)),,sudo) fixtures/lab/record-all.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info $(CORE)
