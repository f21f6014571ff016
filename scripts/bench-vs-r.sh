#!/usr/bin/env bash
# Times canaryd's mann_whitney against R's wilcox.test(x, y, conf.int = TRUE) on the same data
# and checks that the answers agree to the bar of tests/canaryd/stats_reference.rs (W and p
# within 1e-9 relative, estimate and interval within 1e-4 plus R's uniroot slack).
#
# Usage: scripts/bench-vs-r.sh [SIZE ...]     (default: 1000 10000 100000; needs Rscript)
# For each size it prints R's median seconds, ours, and the ratio R / ours.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000 10000 100000)

cargo build --release --quiet --example mw_timing
bin=target/release/examples/mw_timing
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-8s %-8s %12s %12s %10s  %s\n' size method "R seconds" "ours" "R/ours" agreement
for n in "${sizes[@]}"; do
  if [ "$n" -ge 100000 ]; then r_runs=3; else r_runs=5; fi
  ours=$("$bin" "$n" 11 "$work")
  Rscript --vanilla - "$work" "$r_runs" "$ours" <<'RSCRIPT'
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; runs <- as.integer(args[2])
kv <- strsplit(strsplit(args[3], " ")[[1]], "=")
ours <- setNames(lapply(kv, `[`, 2), vapply(kv, `[`, "", 1))
num <- function(k) as.numeric(ours[[k]])
x <- scan(file.path(dir, "x.csv"), quiet = TRUE)
y <- scan(file.path(dir, "y.csv"), quiet = TRUE)
secs <- numeric(runs)
for (i in seq_len(runs)) {
  secs[i] <- system.time(r <- wilcox.test(x, y, conf.int = TRUE))[["elapsed"]]
}
r_secs <- median(secs)
rel <- function(a, b) if (a == b) 0 else abs(a - b) / max(abs(a), abs(b))
slack <- function(v) 1e-4 + 4 * .Machine$double.eps * abs(v) + 1e-12
ok <- c(
  method = (grepl("exact", r$method) == (ours$method == "exact")),
  W = rel(num("statistic"), unname(r$statistic)) <= 1e-9,
  p = (r$p.value < 1e-300 && num("p_value") < 1e-300) || rel(num("p_value"), r$p.value) <= 1e-9,
  estimate = abs(num("estimate") - unname(r$estimate)) <= slack(r$estimate),
  lo = abs(num("lo") - r$conf.int[1]) <= slack(r$conf.int[1]),
  hi = abs(num("hi") - r$conf.int[2]) <= slack(r$conf.int[2]),
  level = num("confidence") == attr(r$conf.int, "conf.level")
)
agreement <- if (all(ok)) "agree" else paste("DIFFER:", paste(names(ok)[!ok], collapse = ","))
cat(sprintf("%-8d %-8s %12.4f %12.6f %10.1f  %s\n", length(x), ours$method, r_secs,
            num("seconds"), r_secs / num("seconds"), agreement))
cat(sprintf("         R:    W=%.17g p=%.6g est=%.10g ci=[%.10g, %.10g]\n", r$statistic, r$p.value,
            r$estimate, r$conf.int[1], r$conf.int[2]))
cat(sprintf("         ours: W=%.17g p=%.6g est=%.10g ci=[%.10g, %.10g]\n", num("statistic"),
            num("p_value"), num("estimate"), num("lo"), num("hi")))
if (!all(ok)) quit(status = 1)
RSCRIPT
done
