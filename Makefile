# Stateward. Build with the local Go toolchain (see scripts/test.sh).
export GOTOOLCHAIN := local

.PHONY: run test model generate peers

run: generate
	go run ./cmd/stateward

test:
	bash scripts/test.sh

# The write engine's model-based test, long: random operations, kills and outages.
model:
	STATEWARD_MODEL_OPS=$${STATEWARD_MODEL_OPS:-3000} go test ./writers -run '^TestWriteEngineModel$$' -count=1 -v

generate:
	go tool templ generate

peers:
	bash scripts/peers.sh
