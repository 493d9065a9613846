#!/usr/bin/env bash
# The test command of Stateward: installs the test peers, then checks
# formatting, generated code, go vet, staticcheck and runs every test (the db
# suite on SQLite and PostgreSQL, the web suite once on each).
#
#   scripts/test.sh              check and test ./...
#   scripts/test.sh ./web ./db   only these packages (gofmt and templ still
#                                check the whole tree)
#   RACE=1 scripts/test.sh       run the tests with the race detector (slow)
#   TEST_TIMEOUT=45m             go test -timeout (default 30m)
#   STATEWARD_PEERS_DIR          where MinIO and Gitea are installed (default
#                                $HOME/.cache/stateward-peers)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Build with the local Go when it satisfies the go directive of go.mod (the
# toolchain line only names a preferred newer release); else let Go pick.
want_go="$(awk '$1 == "go" { print $2; exit }' go.mod)"
local_go="$(GOTOOLCHAIN=local go env GOVERSION)"
local_go="${local_go#go}"
if [ "$(printf '%s\n%s\n' "$want_go" "$local_go" | sort -V | head -n1)" = "$want_go" ]; then
	export GOTOOLCHAIN=local
fi

pkgs=("$@")
if [ "${#pkgs[@]}" -eq 0 ]; then
	pkgs=(./...)
fi

results=()
failed=0
record() { # record <status> <step> [seconds]
	results+=("$(printf '%-4s  %-12s %s' "$1" "$2" "${3:+${3}s}")")
	if [ "$1" = FAIL ]; then
		failed=1
	fi
}
step() { # step <name> <command...>: run a check and record its result
	local name="$1" start=$SECONDS
	shift
	printf '\n==> %s\n' "$name"
	if "$@"; then
		record ok "$name" $((SECONDS - start))
	else
		record FAIL "$name" $((SECONDS - start))
	fi
}
summary() {
	printf '\n==> summary (%s, %s)\n' "$(go env GOVERSION)" "${pkgs[*]}"
	printf '%s\n' "${results[@]}"
	if [ "$failed" -ne 0 ]; then
		printf 'FAILED\n'
	else
		printf 'PASSED\n'
	fi
}

printf '==> peers\n'
start=$SECONDS
if ! bash scripts/peers.sh; then
	record FAIL peers $((SECONDS - start))
	summary
	exit 1
fi
record ok peers $((SECONDS - start))
export STATEWARD_PEERS_DIR="${STATEWARD_PEERS_DIR:-$HOME/.cache/stateward-peers}"

check_gofmt() {
	local out
	out="$(gofmt -l . | grep -v '_templ\.go$' || true)"
	if [ -n "$out" ]; then
		printf 'not gofmt-ed (run gofmt -w):\n%s\n' "$out"
		return 1
	fi
}

templ_sums() {
	find . -name '*_templ.go' -not -path './.git/*' -print0 | sort -z | xargs -0 -r sha256sum
}
check_templ() {
	local before after
	before="$(templ_sums)"
	go tool templ generate || return 1
	after="$(templ_sums)"
	if [ "$before" != "$after" ]; then
		printf 'generated *_templ.go files were stale; templ generate rewrote them:\n'
		diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") || true
		if git rev-parse --verify --quiet HEAD >/dev/null; then
			git --no-pager diff --stat -- '*_templ.go' || true
		fi
		return 1
	fi
}

step gofmt check_gofmt
if [ -n "$(find . -name '*.templ' -not -path './.git/*' -print -quit)" ]; then
	step templ check_templ
fi
step vet go vet "${pkgs[@]}"
step staticcheck go tool staticcheck "${pkgs[@]}"

test_flags=(-count=1 -timeout "${TEST_TIMEOUT:-30m}")
test_name=test
if [ "${RACE:-0}" = 1 ]; then
	test_flags+=(-race)
	test_name="test -race"
fi
step "$test_name" go test "${test_flags[@]}" "${pkgs[@]}"
# The db tests run on SQLite and PostgreSQL by themselves; the web suite runs once
# more with its harness on PostgreSQL.
case " ${pkgs[*]} " in
*" ./... "* | *" ./web "* | *" ./web/ "*)
	step "$test_name web (postgres)" env STATEWARD_TEST_DATABASE=postgres go test "${test_flags[@]}" ./web/
	;;
esac

summary
exit "$failed"
