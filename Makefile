# The two commands a newcomer needs: `make demo` and `make test`.
# Both run the (idempotent) setup first.
CARGO ?= cargo
PROFILE := --release

.PHONY: setup build demo test schema clean-build

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build $(PROFILE) --locked

demo: build
	./target/release/runner doctor
	./target/release/runner plan experiments/quickstart.yaml

test: build
	$(CARGO) test $(PROFILE) --locked --workspace

schema: build
	./target/release/runner schema --output schemas/experiment.schema.json

clean-build:
	$(CARGO) clean
