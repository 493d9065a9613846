#!/usr/bin/env bash
# Installs the real peers that the integration tests start (see package
# testpeers): git, gnupg, chromium, PostgreSQL, a MinIO binary and a Gitea build.
# Idempotent and cheap when every peer is present. Installs system packages only
# as root with apt-get; otherwise it prints the exact command and fails.
#
#   STATEWARD_PEERS_DIR  where the MinIO binary (bin/minio) and the Gitea build
#                        (gitea/) go; default $HOME/.cache/stateward-peers
set -euo pipefail

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # keep in sync with testpeers.MinIOVersion
GITEA_MODULE=code.gitea.io/gitea
GITEA_VERSION=v1.27.3 # keep in sync with testpeers.GiteaVersion

PEERS_DIR="${STATEWARD_PEERS_DIR:-$HOME/.cache/stateward-peers}"
export STATEWARD_PEERS_DIR="$PEERS_DIR"

say() { printf 'peers: %s\n' "$*" >&2; }

can_apt() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_updated=0
apt_install() { # apt_install <package>
	if ! can_apt; then
		say "$1 not found: apt-get install -y $1"
		return 1
	fi
	if [ "$apt_updated" -eq 0 ]; then
		say "apt-get update"
		apt-get update -qq
		apt_updated=1
	fi
	say "apt-get install -y $1"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# git: the Git server of the tests is git http-backend.
if ! command -v git >/dev/null 2>&1; then
	apt_install git
fi

# gpg: signed commits are checked with git verify-commit, which runs gpg.
if ! command -v gpg >/dev/null 2>&1; then
	apt_install gnupg
fi

# gcc: github.com/mattn/go-sqlite3 needs cgo.
if ! command -v gcc >/dev/null 2>&1 && ! command -v cc >/dev/null 2>&1; then
	apt_install gcc
fi

# chromium: the dashboard tests drive headless Chromium with chromedp.
if [ -n "${CHROME_PATH:-}" ]; then
	if [ ! -x "$CHROME_PATH" ]; then
		say "CHROME_PATH=$CHROME_PATH is not executable; unset it or: apt-get install -y chromium"
		exit 1
	fi
elif [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
	apt_install chromium
fi

# PostgreSQL: the db tests run against a throwaway cluster too (initdb in a temp
# dir, run as nobody when the tests run as root). Debian's postgresql package
# puts the server binaries in /usr/lib/postgresql/<major>/bin.
if [ -n "${STATEWARD_POSTGRES_BIN:-}" ]; then
	if [ ! -x "$STATEWARD_POSTGRES_BIN/initdb" ] || [ ! -x "$STATEWARD_POSTGRES_BIN/postgres" ]; then
		say "STATEWARD_POSTGRES_BIN=$STATEWARD_POSTGRES_BIN holds no initdb and postgres; unset it or: apt-get install -y postgresql"
		exit 1
	fi
elif ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
	apt_install postgresql
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
		say "postgresql installed but no /usr/lib/postgresql/*/bin/initdb; set STATEWARD_POSTGRES_BIN to the directory holding initdb and postgres"
		exit 1
	fi
fi

# MinIO: built once from source into $PEERS_DIR/bin (about 5 minutes the first
# time; the Go build and module caches are kept).
minio_bin="$PEERS_DIR/bin/minio"
if [ ! -x "$minio_bin" ] && ! command -v minio >/dev/null 2>&1; then
	mkdir -p "$PEERS_DIR/bin"
	install_minio() {
		if [ -x "$minio_bin" ]; then # another run installed it meanwhile
			return 0
		fi
		say "installing MinIO into $PEERS_DIR/bin (once, takes a few minutes)"
		GOBIN="$PEERS_DIR/bin" go install "$MINIO_MODULE@$MINIO_VERSION"
	}
	if command -v flock >/dev/null 2>&1; then
		# Serialise concurrent runs; the lock is released when the subshell exits.
		(
			flock 9
			install_minio
		) 9>"$PEERS_DIR/.install.lock"
	else
		install_minio
	fi
	if [ ! -x "$minio_bin" ]; then
		say "MinIO install failed; run: GOBIN=$PEERS_DIR/bin go install $MINIO_MODULE@$MINIO_VERSION"
		exit 1
	fi
fi
# Gitea: built once from its module source into $PEERS_DIR/gitea (about 10
# CPU-minutes the first time). Its go.mod pins modules with replace, so go install
# refuses it: build in a writable copy of the module directory. Such a build has
# no embedded assets, so the module's options/ and templates/ are kept beside the
# binary (testpeers points STATIC_ROOT_PATH there). VERSION names the build, so a
# new GITEA_VERSION rebuilds it.
gitea_dir="$PEERS_DIR/gitea"
gitea_installed() {
	[ -x "$gitea_dir/gitea" ] && [ -d "$gitea_dir/options" ] && [ -d "$gitea_dir/templates" ] &&
		[ "$(cat "$gitea_dir/VERSION" 2>/dev/null)" = "$GITEA_VERSION" ]
}
build_gitea() { # build_gitea <tmp dir>: builds into <tmp dir>/out
	local tmp="$1" src json
	# Outside any module, so that the download touches no go.mod or go.sum.
	if ! json="$(cd "$tmp" && GOWORK=off GOFLAGS= go mod download -json "$GITEA_MODULE@$GITEA_VERSION")"; then
		say "Gitea: go mod download $GITEA_MODULE@$GITEA_VERSION failed:"
		printf '%s\n' "$json" >&2
		return 1
	fi
	src="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
	if [ -z "$src" ] || [ ! -f "$src/go.mod" ]; then
		say "Gitea: go mod download gave no module directory:"
		printf '%s\n' "$json" >&2
		return 1
	fi
	if ! cp -R "$src" "$tmp/src" || ! chmod -R u+w "$tmp/src" || ! mkdir -p "$tmp/out"; then
		say "Gitea: could not copy $src to $tmp/src"
		return 1
	fi
	if ! (cd "$tmp/src" && GOWORK=off GOFLAGS= go build -p 1 -tags 'sqlite sqlite_unlock_notify' -o "$tmp/out/gitea" .); then
		say "Gitea: go build in a copy of $src failed (output above); it needs Go >= 1.26.4 and cgo (gcc)"
		return 1
	fi
	if ! cp -R "$tmp/src/options" "$tmp/src/templates" "$tmp/out/" ||
		! printf '%s\n' "$GITEA_VERSION" >"$tmp/out/VERSION"; then
		say "Gitea: could not keep options/ and templates/ beside the binary"
		return 1
	fi
}
install_gitea() {
	if gitea_installed; then # another run installed it meanwhile
		return 0
	fi
	local tmp start=$SECONDS
	say "building Gitea $GITEA_VERSION into $gitea_dir (once, about 10 CPU-minutes)"
	tmp="$(mktemp -d "${TMPDIR:-/tmp}/stateward-gitea-build.XXXXXX")" || return 1
	if ! build_gitea "$tmp"; then
		rm -rf "$tmp"
		return 1
	fi
	# Replace an older build only once the new one is complete.
	rm -rf "$gitea_dir.new" "$gitea_dir.old"
	if ! cp -R "$tmp/out" "$gitea_dir.new"; then
		say "Gitea: could not write $gitea_dir.new"
		rm -rf "$tmp" "$gitea_dir.new"
		return 1
	fi
	rm -rf "$tmp"
	if [ -e "$gitea_dir" ]; then
		mv "$gitea_dir" "$gitea_dir.old"
	fi
	mv "$gitea_dir.new" "$gitea_dir"
	rm -rf "$gitea_dir.old"
	say "built Gitea $GITEA_VERSION in $((SECONDS - start))s"
}
if ! gitea_installed; then
	mkdir -p "$PEERS_DIR"
	if command -v flock >/dev/null 2>&1; then
		(
			flock 9
			install_gitea
		) 9>"$PEERS_DIR/.install.lock" || true
	else
		install_gitea || true
	fi
	if ! gitea_installed; then
		say "Gitea install failed (see above); run again: bash scripts/peers.sh"
		exit 1
	fi
fi
say "ok (git, chromium, PostgreSQL, MinIO in ${PEERS_DIR}/bin, Gitea $GITEA_VERSION in $gitea_dir)"
