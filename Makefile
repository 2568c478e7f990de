# One entry point for everything: `make test` is what CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck pytest docs demo stress bench

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# basictracer asks for "protobuf>=3.0.0b2", which lets pip pick a protobuf pre-release.
	# The bench extra too: the benchmark smoke test runs every peer variant, so none can rot.
	$(BIN)/python -m pip install --quiet --only-final protobuf -e '.[dev,bench]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The documentation, with warnings as errors (tests/test_docs.py runs the same build in make test).
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# Two traced services (frontend, backend) on loopback ports; prints each trace as a tree.
# With OTEL_EXPORTER_OTLP_ENDPOINT set, the spans also go to that OTLP/HTTP collector.
demo: $(STAMP)
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
