#!/usr/bin/env Rscript
# Reference values for canaryd's Mann-Whitney (Wilcoxon rank-sum) test.
#
# Writes fixtures/stats/wilcox-reference.json: for every case the two samples x (canary) and
# y (baseline), the requested confidence level, and what R's
#   wilcox.test(x, y, conf.int = TRUE, conf.level = conf)
# returns (two-sided, mu = 0, correct = TRUE, exact = NULL): statistic W, p.value, estimate,
# conf.int, attr(conf.int, "conf.level") and whether the exact or the normal method was used.
# Where R cannot compute the interval (every observation of each side tied) the error is
# recorded and statistic/p.value come from conf.int = FALSE.
#
# Run from the repository root (base R only, no packages; deterministic through set.seed):
#   Rscript scripts/r-reference/generate.R
# The test suite (tests/canaryd/stats_reference.rs) reads the JSON and does not need R.

set.seed(20261101)

num <- function(v) {
  if (length(v) == 0) return("[]")
  s <- ifelse(is.finite(v), sprintf("%.17g", v), "null")
  paste0("[", paste(s, collapse = ","), "]")
}
scalar <- function(v) if (length(v) == 1 && is.finite(v)) sprintf("%.17g", v) else "null"
str_json <- function(s) paste0("\"", gsub("\"", "'", s, fixed = TRUE), "\"")

cases <- character(0)

add_case <- function(name, x, y, conf) {
  res <- tryCatch(
    suppressWarnings(wilcox.test(x, y, conf.int = TRUE, conf.level = conf)),
    error = function(e) e
  )
  if (inherits(res, "error")) {
    plain <- suppressWarnings(wilcox.test(x, y))
    method <- if (grepl("exact", plain$method)) "exact" else "normal"
    body <- paste0(
      "\"statistic\":", scalar(unname(plain$statistic)),
      ",\"p_value\":", scalar(plain$p.value),
      ",\"estimate\":null,\"ci\":null,\"conf_level\":null",
      ",\"method\":", str_json(method),
      ",\"ci_error\":", str_json(conditionMessage(res))
    )
  } else {
    method <- if (grepl("exact", res$method)) "exact" else "normal"
    body <- paste0(
      "\"statistic\":", scalar(unname(res$statistic)),
      ",\"p_value\":", scalar(res$p.value),
      ",\"estimate\":", scalar(unname(res$estimate)),
      ",\"ci\":", num(as.numeric(res$conf.int)),
      ",\"conf_level\":", scalar(attr(res$conf.int, "conf.level")),
      ",\"method\":", str_json(method),
      ",\"ci_error\":null"
    )
  }
  cases <<- c(cases, paste0(
    "{\"name\":", str_json(name), ",\"conf\":", sprintf("%.17g", conf),
    ",\"x\":", num(x), ",\"y\":", num(y), ",", body, "}"
  ))
}

dists <- list(
  normal = function(n) rnorm(n, 10, 2),
  exponential = function(n) rexp(n, 1.5),
  lognormal = function(n) rlnorm(n, 0, 1),
  uniform = function(n) runif(n, -1, 3),
  t3 = function(n) rt(n, df = 3),
  cauchy = function(n) rcauchy(n),
  latency = function(n) 0.180 + rexp(n, 1 / 0.020) + rlnorm(n, -5, 0.8),
  rounded = function(n) round(rnorm(n, 5, 1), 1),  # ties
  poisson = function(n) rpois(n, 3)                 # many ties
)
shift_of <- list(
  normal = 1.5, exponential = 0.3, lognormal = 0.5, uniform = 0.4, t3 = 0.8,
  cauchy = 1, latency = 0.01, rounded = 0.5, poisson = 1
)

sizes <- list(
  c(3, 3), c(3, 5), c(4, 6), c(5, 5), c(6, 9), c(8, 8), c(10, 12), c(15, 15), c(20, 18),
  c(25, 30), c(40, 45), c(49, 49),                                  # exact when no ties
  c(50, 50), c(49, 60), c(75, 60), c(100, 100), c(150, 120), c(300, 250), c(500, 400)
)
confs <- c(0.90, 0.95, 0.98)

k <- 0
for (dn in names(dists)) {
  for (s in sizes) {
    k <- k + 1
    conf <- confs[(k %% 3) + 1]
    shift <- if (k %% 2 == 0) shift_of[[dn]] else 0
    x <- dists[[dn]](s[1]) + shift
    y <- dists[[dn]](s[2])
    add_case(sprintf("%s-n%d-m%d-shift%g-c%g", dn, s[1], s[2], shift, conf), x, y, conf)
  }
}

# Large samples: normal branch, a handful only to keep the file small.
large <- list(
  list("normal", c(1000, 1000), 0.95), list("latency", c(2000, 1200), 0.90),
  list("lognormal", c(5000, 5000), 0.95), list("poisson", c(3000, 4000), 0.98),
  list("t3", c(1500, 2500), 0.95), list("rounded", c(1000, 1200), 0.90)
)
for (l in large) {
  dn <- l[[1]]; s <- l[[2]]; conf <- l[[3]]
  x <- dists[[dn]](s[1]) + shift_of[[dn]] / 4
  y <- dists[[dn]](s[2])
  add_case(sprintf("large-%s-n%d-m%d-c%g", dn, s[1], s[2], conf), x, y, conf)
}

# Exact cases whose requested level is not achievable, and tiny samples.
add_case("exact-unachievable-3x3-c0.98", c(1.1, 2.5, 3.7), c(0.2, 1.9, 4.4), 0.98)
add_case("exact-unachievable-3x3-c0.95", c(5.1, 6.3, 7.2), c(1.2, 2.8, 3.3), 0.95)
add_case("exact-unachievable-2x3-c0.90", c(1.5, 2.5), c(0.1, 0.7, 3.9), 0.90)
add_case("exact-unachievable-3x4-c0.98", c(3.2, 4.1, 8.8), c(1.0, 2.2, 5.5, 6.1), 0.98)
add_case("exact-unachievable-4x4-c0.99", c(3.2, 4.1, 8.8, 9.9), c(1.0, 2.2, 5.5, 6.1), 0.99)
add_case("exact-1x1", c(2.5), c(1.0), 0.95)
add_case("exact-1x4", c(2.5), c(1.0, 3.1, 4.2, 0.5), 0.90)
add_case("exact-separated-5x5", c(10, 11, 12, 13, 14), c(1, 2, 3, 4, 5), 0.95)
add_case("exact-decimal-diffs", c(0.1, 0.7, 1.3, 2.9), c(0.3, 0.2, 1.1, 2.6, 0.05), 0.95)

# Constant samples (CONTRACT section 5).
add_case("constant-each-side-differ", rep(5, 4), rep(3, 6), 0.95)
add_case("constant-each-side-differ-decimal", rep(0.1, 10), rep(0.3, 8), 0.90)
add_case("constant-each-side-differ-1x2", 7, c(2, 2), 0.95)
add_case("constant-one-value", rep(1, 5), rep(1, 7), 0.95)
add_case("constant-one-value-1x1", 2, 2, 0.95)
add_case("constant-x-only", rep(1, 10), c(0.4, 1.7, 0.9, 1.2, 2.2, 0.1, 1.9, 0.8, 1.0, 1.3), 0.95)
add_case("constant-y-only", c(0.4, 1.7, 0.9, 1.2, 2.2, 0.1, 1.9, 0.8, 1.0, 1.3, 5), rep(1, 9), 0.95)
add_case("identical-samples", c(1, 2, 3, 4, 5, 6), c(1, 2, 3, 4, 5, 6), 0.95)
add_case("identical-samples-60", (1:60) / 7, (1:60) / 7, 0.95)
add_case("binary-values", rep(c(0, 1), c(30, 20)), rep(c(0, 1), c(20, 35)), 0.95)
add_case("big-magnitude", 1e9 + rnorm(80, 0, 1e3), 1e9 + rnorm(70, 200, 1e3), 0.95)
add_case("tiny-magnitude", 1e-9 * rexp(60), 1e-9 * rexp(55, 2), 0.95)
add_case("negative-shift", rnorm(80, -3), rnorm(90), 0.95)

out <- file.path("fixtures", "stats", "wilcox-reference.json")
dir.create(dirname(out), recursive = TRUE, showWarnings = FALSE)
con <- file(out, "w")
writeLines(paste0(
  "{\"generator\":\"scripts/r-reference/generate.R\",\"r_version\":", str_json(R.version.string),
  ",\"cases\":[\n", paste(cases, collapse = ",\n"), "\n]}"
), con)
close(con)
cat(sprintf("wrote %d cases to %s\n", length(cases), out))
