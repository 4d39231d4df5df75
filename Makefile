# Two commands for a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# finn-plus beside torch 2.13 (docs/interop.md): its requirements without brevitas 0.13.0, then
# finn-plus itself without dependencies
INTEROP_STAMP := $(VENV)/.interop-installed
FINN_PLUS     := finn-plus==1.6.1

.PHONY: run test install interop clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

$(INTEROP_STAMP): $(STAMP) requirements-interop.txt
	@echo "make interop: $(FINN_PLUS) and its pinned requirements (requirements-interop.txt) into $(VENV)"
	@$(PY) -m pip install --quiet -r requirements-interop.txt
	@$(PY) -m pip install --quiet --no-deps $(FINN_PLUS)
	@$(PY) -c "import importlib.metadata as m, sys; v = {p: m.version(p) for p in ('torch', 'brevitas', 'finn-plus')}; \
	  ok = v['torch'].split('+')[0] == '2.13.0' and v['brevitas'] == '0.13.4'; \
	  sys.exit(0 if ok else 'make interop: expected torch 2.13.0 and brevitas 0.13.4 beside finn-plus, found ' + str(v))"
	@touch $(INTEROP_STAMP)

interop: $(INTEROP_STAMP)

run: $(STAMP)
	$(PY) -m spvit_fpga.generate --board zcu102 --out build/hls_zcu102 --force --csim --images 20

test: $(INTEROP_STAMP)
	$(PY) -m pytest -q -n 2

clean:
	rm -rf $(VENV) *.egg-info
