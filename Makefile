# Stateward. Build with the local Go toolchain (see scripts/test.sh).
export GOTOOLCHAIN := local

.PHONY: run test generate peers

run: generate
	go run ./cmd/stateward

test:
	bash scripts/test.sh

generate:
	go tool templ generate

peers:
	bash scripts/peers.sh
