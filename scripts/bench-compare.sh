#!/usr/bin/env bash
# bench-compare.sh BASE [PAIRS] — the regression check of BENCHMARKS.md: builds the
# test binaries of commit BASE and of the working tree, runs BenchmarkWorks1000Git,
# BenchmarkIngest/minio and BenchmarkReplicas2000Works alternately (old, new, then
# new, old, …) PAIRS times each (default 10), and prints every run and, per figure,
# the medians and the median of the new/old ratios pair by pair. Run it on a quiet
# machine: a single run varies ±15–30 % on a shared 2-core box.
# BENCHES="works ingest replicas" picks which to run.
set -euo pipefail
base=${1:?usage: scripts/bench-compare.sh BASE [PAIRS]}
pairs=${2:-10}
benches=${BENCHES:-works ingest replicas}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
root=$(git rev-parse --show-toplevel)
out=$(mktemp -d)
echo "==> building $base and the working tree into $out"
git -C "$root" worktree add -q --detach "$out/base" "$base"
trap 'git -C "$root" worktree remove --force "$out/base"' EXIT
(cd "$out/base" && go test -c -o "$out/old-writers.test" ./writers && go test -c -o "$out/old-web.test" ./web)
(cd "$root" && go test -c -o "$out/new-writers.test" ./writers && go test -c -o "$out/new-web.test" ./web)

run() { # bench pkg pattern benchtime
	local name=$1 pkg=$2 pattern=$3 benchtime=$4
	for i in $(seq 1 "$pairs"); do
		local order="old new"
		((i % 2)) || order="new old"
		for who in $order; do
			(cd "$root/$pkg" && "$out/$who-$pkg.test" -test.run '^$' -test.bench "$pattern" -test.benchtime "$benchtime" 2>&1) |
				grep -E '^Benchmark' | sed "s/^/$who $i /" | tee -a "$out/$name.txt"
		done
	done
}
for b in $benches; do
	case $b in
	works) run works writers 'BenchmarkWorks1000Git$' 1x ;;
	ingest) run ingest web 'BenchmarkIngest/minio' 10000x ;;
	replicas) run replicas web 'BenchmarkReplicas2000Works' 1x ;;
	esac
done

echo "==> medians (old = $base, new = working tree; ratio = new/old, pair by pair)"
for b in $benches; do
	python3 - "$out/$b.txt" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    f = line.split()
    vals = {f[i + 1]: float(f[i]) for i in range(4, len(f) - 1, 2)}
    runs[(f[2], int(f[1]))][f[0]] = vals
for name in sorted({k[0] for k in runs}):
    metrics = sorted({m for (n, _), d in runs.items() if n == name for v in d.values() for m in v})
    for m in metrics:
        o, n, r = [], [], []
        for (nm, _), d in sorted(runs.items()):
            if nm == name and m in d.get("old", {}) and m in d.get("new", {}):
                o.append(d["old"][m]); n.append(d["new"][m]); r.append(d["new"][m] / d["old"][m])
        if r:
            print(f"{name} {m}: {len(r)} pairs; old {statistics.median(o):.4g} [{min(o):.4g}–{max(o):.4g}], "
                  f"new {statistics.median(n):.4g} [{min(n):.4g}–{max(n):.4g}]; new/old median {statistics.median(r):.3f} "
                  f"[{min(r):.3f}–{max(r):.3f}]")
PY
done
