# Two commands on a fresh clone (each creates .venv first if it is missing):
#   make lab    JupyterLab on the notebook suite
#   make test   every test: unit tests, nbval on every notebook, the browser tests
#   make app    the classroom app: the compound-scaling explorer without code (Voilà)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Quick mode for notebooks under test: small slices, short runs (see notebooks/00_start_here).
TEST_ENV := EFFNET_LAB_QUICK=1 MPLBACKEND=Agg

.PHONY: lab app test unit notebooks benchmark student clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

# Jupyter refuses to start as root (containers, cloud shells) unless told it is intended.
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

# The classroom app: sliders and figures only, on http://localhost:$(APP_PORT) (opens a browser).
APP_PORT ?= 8866
app: $(STAMP)
	MPLBACKEND=Agg $(BIN)/voila --port=$(APP_PORT) app/explorer.ipynb

test: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -n auto --dist loadscope \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg tests notebooks

unit: $(STAMP)
	$(BIN)/python -m pytest -n auto tests

benchmark: $(STAMP)
	$(BIN)/python benchmarks/cost_vs_ptflops.py

# Re-run every lesson headlessly and save its outputs (then `make test` checks them).
notebooks: $(STAMP)
	$(TEST_ENV) $(BIN)/python scripts/run_notebooks.py

# Copies of the lessons with the exercise answers blanked, in student/ (git-ignored).
student: $(STAMP)
	$(BIN)/python scripts/student_copies.py --out student

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
