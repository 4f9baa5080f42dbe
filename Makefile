# The two commands a newcomer needs: `make demo` and `make test`.
# Both run the (idempotent) setup first.
CARGO ?= cargo
PROFILE := --release

.PHONY: setup build demo test schema clean-build

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build $(PROFILE) --locked

# The main job on the embedded default: the quickstart sweep, its table and
# its figures (a rerun resumes and only redraws).
demo: build
	./target/release/runner doctor --no-bench
	./target/release/runner run experiments/quickstart.yaml
	./target/release/runner table experiments/quickstart.yaml
	./target/release/runner plot experiments/quickstart.yaml > /dev/null
	@echo "figure: $$(ls -d results/quickstart/$$(git rev-parse --short=12 HEAD)*/figures/owa_vs_tokens_generated.png | head -n 1)"

test: build
	$(CARGO) test $(PROFILE) --locked --workspace

schema: build
	./target/release/runner schema --output schemas/experiment.schema.json

clean-build:
	$(CARGO) clean
