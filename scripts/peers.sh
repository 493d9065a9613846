#!/usr/bin/env bash
# Installs the real peers that the integration tests start (see package
# testpeers): git, gnupg, chromium, PostgreSQL and a MinIO binary. Idempotent and cheap when every
# peer is present. Installs system packages only as root with apt-get; otherwise
# it prints the exact command and fails.
#
#   STATEWARD_PEERS_DIR  where the MinIO binary goes (bin/minio);
#                        default $HOME/.cache/stateward-peers
set -euo pipefail

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # keep in sync with testpeers.MinIOVersion

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
say "ok (git, chromium, PostgreSQL, MinIO in ${PEERS_DIR}/bin)"
