# Hyperion's front door. `make demo` and `make test` work on a fresh Debian machine: each installs what is missing
# (scripts/install-deps, apt-get), configures and builds, then runs the demo or every test.
BUILD    ?= build
JOBS     ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
DEMO_DIR := $(BUILD)/demo

.PHONY: all deps configure build demo test bench bench-ui format clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The main job on the bundled real example: a PyTorch MLP on scikit-learn's digits, tuned by random search.
demo: build
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BUILD)/hyperion run examples/digits/hyperion.yaml --storage sqlite:///$(abspath $(DEMO_DIR))/hyperion.db \
	  --output-dir $(DEMO_DIR)/runs
	$(BUILD)/hyperion best --storage sqlite:///$(abspath $(DEMO_DIR))/hyperion.db

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Search quality of Hyperion's strategies side by side with Optuna's samplers, in one run; rewrites the Search
# quality section of docs/benchmarks.md. Takes minutes; not part of `make test`.
bench: build
	/usr/bin/python3 bench/run_search_quality.py --binary $(BUILD)/bench/search_quality \
	  --write-docs docs/benchmarks.md

# The dashboard at scale: one experiment of 20,000 trials x 50 reports, every API call and page file timed over
# HTTP; prints the table of the "Dashboard at scale" section of docs/benchmarks.md. A few minutes (filling).
bench-ui: build
	$(BUILD)/bench/ui_scale --db $(BUILD)/ui-scale.db

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD)
