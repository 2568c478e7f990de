# One entry point for everything: `make test` is what CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# What each target needs, installed once per change of pyproject.toml: the full toolchain for
# make test, only the demo's packages for make demo (a fresh clone's first `make demo`).
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
DOCS_STAMP := $(VENV)/.installed-docs
# The project with its user-facing extras; development tools come from the dependency
# groups of pyproject.toml (`pip install --group`, pip >= 25.1, hence the pip upgrade first).
# basictracer asks for "protobuf>=3.0.0b2", which lets pip pick a protobuf pre-release.
PROJECT := --only-final protobuf -e '.[otel,requests,httpx,sqlalchemy,zero-code]'

.PHONY: install test lint typecheck pytest docs demo stress bench bench-otel matrix

install: $(STAMP)

$(VENV)/.venv-created:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	touch $@

# The bench group too: the benchmark smoke test runs every peer variant, so none can rot.
$(STAMP): pyproject.toml $(VENV)/.venv-created
	$(BIN)/python -m pip install --quiet $(PROJECT) --group dev --group bench
	touch $(STAMP) $(DEMO_STAMP) $(DOCS_STAMP)

$(DEMO_STAMP): pyproject.toml $(VENV)/.venv-created
	$(BIN)/python -m pip install --quiet $(PROJECT) --group demo
	touch $(DEMO_STAMP)

$(DOCS_STAMP): pyproject.toml $(VENV)/.venv-created
	$(BIN)/python -m pip install --quiet $(PROJECT) --group docs
	touch $(DOCS_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Branch coverage of the package, subprocesses included ([tool.coverage.*] in pyproject.toml);
# the report prints the figure and fails under fail_under. COVERAGE_FILE is absolute so that
# subprocesses started in another directory write their data here too.
pytest: $(STAMP)
	rm -f .coverage .coverage.*
	COVERAGE_FILE=$(CURDIR)/.coverage $(BIN)/coverage run -m pytest
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test: lint typecheck pytest

# The documentation, with warnings as errors (tests/test_docs.py runs the same build in make test).
docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# Two traced services (frontend, backend) on loopback ports; prints each trace as a tree.
# With OTEL_EXPORTER_OTLP_ENDPOINT set, the spans also go to that OTLP/HTTP collector.
demo: $(DEMO_STAMP)
	$(BIN)/python demo/run.py

# The fault, hostile-input, concurrency and leak tests with their full counts (10,000+ faulty
# requests, 20,000 concurrent requests, 200,000 requests for leaks); their figures are printed.
stress: $(STAMP)
	rm -f build/stress-figures.jsonl
	PYRAMID_TRACING_STRESS=1 PYRAMID_TRACING_FIGURES=build/stress-figures.jsonl \
		$(BIN)/pytest -m stress -o timeout=3600
	cat build/stress-figures.jsonl

# The benchmark suite against pyramid_opentracing and the OpenTelemetry instrumentation (a few
# minutes; not part of make test). Writes benchmarks/results/latest.json and the table in
# docs/performance.md.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --docs docs/performance.md
	# What tracing.instrument costs (SQL, render, the default): about half a minute.
	$(BIN)/python -m benchmarks.instrument
	# What a streamed body's wrapper costs, and the test an ordinary response pays: 5 s.
	$(BIN)/python -m benchmarks.streaming
	# What each HTTP server metric costs a request, beside the SDK's own calls and the peer's
	# metrics: about 10 s; its own section of docs/performance.md.
	$(BIN)/python -m benchmarks.metrics --docs docs/performance.md

# The OpenTelemetry backend's section alone (benchmarks/otel_backend.py, some 8 minutes): into
# benchmarks/results/latest.json (its other sections kept) and its own part of the docs page.
bench-otel: $(STAMP)
	$(BIN)/python -m benchmarks.run --otel-only --docs docs/performance.md

# The test suite on Python 3.10 to 3.13 and on the lowest supported dependency versions
# (noxfile.py; each session has its own venv under .nox/). Not part of make test.
matrix: $(STAMP)
	$(BIN)/nox
