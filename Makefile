# Two commands a student needs: `make lab` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300

.PHONY: venv lab test lint unit nbval notebooks student report slides site test-browser test-portable bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make lab: JupyterLab on the notebooks (http://localhost:8888)
lab: venv
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS) notebooks/

## make test: lint, unit tests, report checks and strict nbval on every notebook
test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests notebooks $(NBVAL)

lint: venv
	$(BIN)/ruff check .

unit: venv
	$(BIN)/python -m pytest tests

nbval: venv
	$(BIN)/python -m pytest notebooks $(NBVAL)

## make notebooks: re-execute every notebook in place from a clean kernel (how they are committed)
notebooks: venv
	cd notebooks && for nb in [0-9][0-9]_*.ipynb; do \
	  echo "executing $$nb"; \
	  ../$(BIN)/jupyter nbconvert --execute --to notebook --inplace \
	    --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; \
	done
	cd notebooks/solutions && for nb in [0-9][0-9]_solutions.ipynb; do \
	  echo "executing solutions/$$nb"; \
	  ../../$(BIN)/jupyter nbconvert --execute --to notebook --inplace \
	    --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.timeout=600 "$$nb" || exit 1; \
	done

## make student: re-execute notebooks/**/*_teacher.ipynb, then generate and execute their student versions
student: venv
	PYTHONPATH=$(CURDIR) $(BIN)/python tools/make_student.py --teacher

## make report: figures and numbers from code, then report/report.pdf
report: venv
	$(BIN)/python report/make_figures.py
	$(BIN)/python report/build.py

## make slides: reveal.js decks of the notebooks in build/slides (offline: vendored reveal.js, MathML)
slides: venv
	$(BIN)/python tools/course.py slides --out build/slides

## make site: the course site in build/site (every notebook with outputs, slides, report PDF; offline)
site: venv
	$(BIN)/python tools/course.py site --out build/site

## make test-browser: builds the site, then the sliders in real JupyterLab and the site and slides
## from file:// (network blocked), in headless Chromium (apt-get install -y chromium)
test-browser: site
	$(BIN)/python -m pytest -m browser tests/browser -v

## make test-portable (opt-in, not in CI): unit tests + strict nbval again under other OpenBLAS
## kernels (Haswell, Prescott, SkylakeX) and NumPy limited to AVX2; a variant this CPU cannot
## run is skipped with a message (tests/portable.sh)
test-portable: venv
	PY=$(BIN)/python tests/portable.sh

## make bench: EM and widget benchmarks, side by side with scikit-learn (OPENBLAS_CORETYPE and
## OPENBLAS_L2_SIZE, set on some machines for old OpenBLAS builds, are unset for this command only)
bench: venv
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_em.py
	$(BIN)/python benchmarks/bench_widgets.py

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache build
