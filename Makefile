# Weft — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
# Every engine under plugins/ (each a crate named weft-<dir>), so adding one
# touches only plugins/<engine>/.
PLUGINS := $(filter-out sdk,$(notdir $(patsubst %/,%,$(dir $(wildcard plugins/*/Cargo.toml)))))
TEST_PLUGINS := $(notdir $(patsubst %/,%,$(dir $(wildcard tests/plugins/*/Cargo.toml))))
PLUGIN_OUT := target/plugins
TEST_PLUGIN_OUT := target/test-plugins
LISTEN ?= 127.0.0.1:8080

.PHONY: run build plugins plugins-scalar test-plugins host test python-deps bench reference fmt lint clean toolchain

## run: install the wasm target, build plugins and host, start the server
run: build
	./target/release/weft serve --listen $(LISTEN) --data-dir ./data --plugins $(PLUGIN_OUT)

## build: target/release/weft and target/plugins/<engine>.wasm
build: plugins host

toolchain:
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

# Engines shipped built with wasm simd128, because `make bench` shows it
# helps them (docs/performance.md). They build in target/simd, so the flag
# does not rebuild every other plugin's dependencies.
SIMD_PLUGINS := ml

plugins: toolchain
	$(CARGO) build --profile plugin --target $(WASM_TARGET) $(foreach p,$(filter-out $(SIMD_PLUGINS),$(PLUGINS)),-p weft-$(p))
	CARGO_TARGET_DIR=target/simd RUSTFLAGS="-C target-feature=+simd128" \
	  $(CARGO) build --profile plugin --target $(WASM_TARGET) $(foreach p,$(SIMD_PLUGINS),-p weft-$(p))
	@mkdir -p $(PLUGIN_OUT)
	@for p in $(filter-out $(SIMD_PLUGINS),$(PLUGINS)); do cp target/$(WASM_TARGET)/plugin/weft_$$p.wasm $(PLUGIN_OUT)/$$p.wasm; done
	@for p in $(SIMD_PLUGINS); do cp target/simd/$(WASM_TARGET)/plugin/weft_$$p.wasm $(PLUGIN_OUT)/$$p.wasm; done

# The simd128 engines built without it, for `make bench` to time the
# shipped build against.
plugins-scalar: toolchain
	$(CARGO) build --profile plugin --target $(WASM_TARGET) $(foreach p,$(SIMD_PLUGINS),-p weft-$(p))
	@mkdir -p target/plugins-scalar
	@for p in $(SIMD_PLUGINS); do cp target/$(WASM_TARGET)/plugin/weft_$$p.wasm target/plugins-scalar/$$p.wasm; done

test-plugins: toolchain
	$(CARGO) build --profile plugin --target $(WASM_TARGET) $(foreach p,$(TEST_PLUGINS),-p weft-$(p))
	@mkdir -p $(TEST_PLUGIN_OUT)
	@for p in $(TEST_PLUGINS); do cp target/$(WASM_TARGET)/plugin/weft_$$p.wasm $(TEST_PLUGIN_OUT)/$$p.wasm; done

# The whole workspace, so that `make test` and `make bench` reuse exactly
# these artifacts (same feature unification: wasmtime is compiled once).
host:
	$(CARGO) build --release --workspace

## test: unit tests of every crate, then end-to-end tests against the real
## binary and real .wasm plugins. One profile (release) for everything, so
## wasmtime is compiled once.
test: build test-plugins python-deps
	$(CARGO) test --release --workspace

# The e2e tests run the Python example client (examples/); the ML engine's
# ONNX export is checked in onnxruntime; the Python plugin template is built
# with componentize-py.
python-deps:
	@python3 -c "import websockets" 2>/dev/null \
	  || python3 -m pip install --quiet -r examples/requirements.txt
	@python3 -c "import onnxruntime" 2>/dev/null \
	  || python3 -m pip install --quiet onnxruntime==1.32.0
	@python3 -c "import componentize_py" 2>/dev/null \
	  || python3 -m pip install --quiet componentize-py==0.25.1

## bench: runtime, gateway and engine figures, each next to its baseline
# Runs the binary the workspace build made: `cargo run -p weft-bench` would
# unify features differently and compile wasmtime a second time.
bench: build test-plugins plugins-scalar
	@python3 -m pip install --quiet -r test_data/requirements.txt igraph 2>/dev/null \
	  || echo "python baselines unavailable: networkx/igraph/Shapely rows will be skipped"
	./target/release/weft-bench

## reference: regenerate test_data reference values (needs Python + networkx, Shapely, pyproj, mongomock, scikit-learn, statsmodels, DuckDB)
reference:
	python3 -m pip install --quiet -r test_data/requirements.txt
	python3 test_data/graph/make_karate_reference.py
	python3 test_data/graph/make_random_reference.py
	python3 test_data/graph/make_query_reference.py
	python3 test_data/graph/make_weighted_reference.py
	python3 test_data/graph/make_large_reference.py
	python3 test_data/anomaly/make_reference.py
	python3 test_data/storage/make_reference.py
	python3 test_data/spatial/make_reference.py
	python3 test_data/document/make_reference.py
	python3 test_data/ml/make_reference.py
	python3 test_data/ml/make_forecast_reference.py
	python3 test_data/ml/make_federated_reference.py
	python3 test_data/analytics/make_reference.py
	python3 test_data/analytics/make_ops_reference.py

fmt:
	$(CARGO) fmt --all

## lint: clippy over every crate and target; any warning fails
lint:
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf data
