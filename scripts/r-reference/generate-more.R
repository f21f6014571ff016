#!/usr/bin/env Rscript
# Reference values for canaryd's exact binomial, Poisson-rate, Fisher and Fligner-Killeen tests.
#
# Writes fixtures/stats/more-reference.json with four lists of cases, each with its inputs and
# what R returns:
#   binom:   binom.test(x, n, p, conf.level = conf)                      p.value, estimate, conf.int
#   poisson: poisson.test(c(x, y), c(t, u), conf.level = conf)           p.value, estimate, conf.int
#   fisher:  fisher.test(matrix(c(a, c, b, d), 2), alternative = ...)    the three p.values
#            (the table has rows [a b] and [c d])
#   fligner: fligner.test(list(x, y))                                    statistic, parameter, p.value
# all two-sided unless said. Numbers are written with sprintf("%.17g"); Inf, -Inf and NaN as the
# strings "Inf", "-Inf" and "NaN". Where R stops with an error, the case records the message in
# "error" and canaryd must refuse the input too.
#
# Run from the repository root (base R only, no packages; deterministic through set.seed):
#   Rscript scripts/r-reference/generate-more.R
# The test suite (tests/canaryd/stats_more.rs) reads the JSON and does not need R.

set.seed(20261102)

numj <- function(v) {
  if (is.na(v) && !is.nan(v)) return("\"NaN\"")
  if (is.nan(v)) return("\"NaN\"")
  if (v == Inf) return("\"Inf\"")
  if (v == -Inf) return("\"-Inf\"")
  sprintf("%.17g", v)
}
vecj <- function(v) paste0("[", paste(vapply(as.numeric(v), numj, ""), collapse = ","), "]")
# Inputs are written as strings ("%.17g" in quotes): serde_json's default number parser may be
# an ulp off, which would break R's exact ties; the test parses them with Rust's exact parser.
inj <- function(v) paste0("\"", sprintf("%.17g", v), "\"")
invecj <- function(v) paste0("[", paste(vapply(as.numeric(v), inj, ""), collapse = ","), "]")
str_json <- function(s) paste0("\"", gsub("[\"\n\\\\]", "'", s), "\"")

binom <- character(0)
poisson <- character(0)
fisher <- character(0)
fligner <- character(0)

add_binom <- function(x, n, p, conf) {
  name <- sprintf("binom-x%g-n%g-p%g-c%g", x, n, p, conf)
  res <- tryCatch(binom.test(x, n, p, conf.level = conf), error = function(e) e)
  head <- sprintf("{\"name\":%s,\"x\":%s,\"n\":%s,\"p\":%s,\"conf\":%s", str_json(name),
                  numj(x), numj(n), inj(p), inj(conf))
  body <- if (inherits(res, "error")) {
    paste0(",\"error\":", str_json(conditionMessage(res)), "}")
  } else {
    paste0(",\"p_value\":", numj(res$p.value), ",\"estimate\":", numj(unname(res$estimate)),
           ",\"ci\":", vecj(res$conf.int), ",\"error\":null}")
  }
  binom <<- c(binom, paste0(head, body))
}

add_poisson <- function(x, t, y, u, conf) {
  name <- sprintf("poisson-x%g-t%g-y%g-u%g-c%g", x, t, y, u, conf)
  res <- tryCatch(poisson.test(c(x, y), c(t, u), conf.level = conf), error = function(e) e)
  head <- sprintf("{\"name\":%s,\"x\":%s,\"t\":%s,\"y\":%s,\"u\":%s,\"conf\":%s", str_json(name),
                  numj(x), inj(t), numj(y), inj(u), inj(conf))
  body <- if (inherits(res, "error")) {
    paste0(",\"error\":", str_json(conditionMessage(res)), "}")
  } else {
    paste0(",\"p_value\":", numj(res$p.value), ",\"estimate\":", numj(unname(res$estimate)),
           ",\"ci\":", vecj(res$conf.int), ",\"error\":null}")
  }
  poisson <<- c(poisson, paste0(head, body))
}

add_fisher <- function(a, b, c, d) {
  name <- sprintf("fisher-%g-%g-%g-%g", a, b, c, d)
  m <- matrix(c(a, c, b, d), 2)
  res <- tryCatch(list(
    two = fisher.test(m)$p.value,
    less = fisher.test(m, alternative = "less")$p.value,
    greater = fisher.test(m, alternative = "greater")$p.value
  ), error = function(e) e)
  head <- sprintf("{\"name\":%s,\"a\":%s,\"b\":%s,\"c\":%s,\"d\":%s", str_json(name),
                  numj(a), numj(b), numj(c), numj(d))
  body <- if (inherits(res, "error")) {
    paste0(",\"error\":", str_json(conditionMessage(res)), "}")
  } else {
    paste0(",\"p_value\":", numj(res$two), ",\"p_less\":", numj(res$less),
           ",\"p_greater\":", numj(res$greater), ",\"error\":null}")
  }
  fisher <<- c(fisher, paste0(head, body))
}

add_fligner <- function(name, x, y) {
  res <- tryCatch(fligner.test(list(x, y)), error = function(e) e)
  head <- sprintf("{\"name\":%s,\"x\":%s,\"y\":%s", str_json(name), invecj(x), invecj(y))
  body <- if (inherits(res, "error")) {
    paste0(",\"error\":", str_json(conditionMessage(res)), "}")
  } else {
    paste0(",\"statistic\":", numj(unname(res$statistic)), ",\"df\":",
           numj(unname(res$parameter)), ",\"p_value\":", numj(res$p.value), ",\"error\":null}")
  }
  fligner <<- c(fligner, paste0(head, body))
}

confs <- c(0.90, 0.95, 0.99)

# ---- binom.test ----
add_binom(7, 20, 0.5, 0.95)
add_binom(0, 1, 0.5, 0.95)
add_binom(1, 1, 0.5, 0.90)
add_binom(0, 10, 0.5, 0.95)
add_binom(10, 10, 0.5, 0.99)
add_binom(0, 100000, 0.001, 0.95)
add_binom(100000, 100000, 0.999, 0.95)
add_binom(1, 100000, 1e-5, 0.99)
add_binom(50, 100, 0.5, 0.95)        # x equals n p
add_binom(40, 100, 0.5, 0.95)        # symmetric: exact ties in the densities
add_binom(60, 100, 0.5, 0.90)
add_binom(3, 10, 0, 0.95)            # p = 0
add_binom(0, 10, 0, 0.95)
add_binom(10, 10, 1, 0.95)           # p = 1
add_binom(9, 10, 1, 0.95)
add_binom(0, 5, 0.3, 0.999999)
add_binom(2, 5, 0.3, 1e-6)
add_binom(49900, 100000, 0.5, 0.95)
add_binom(51000, 100000, 0.5, 0.99)
add_binom(200, 100000, 0.001, 0.95)  # far in the upper tail
add_binom(20, 100000, 0.001, 0.90)   # far in the lower tail
add_binom(5, 100000, 0.01, 0.95)     # p-value far below 1e-300
add_binom(99990, 100000, 0.5, 0.95)
add_binom(1234, 5000, 0.25, 0.99)
add_binom(17, 23, 0.9, 0.95)
add_binom(3, 7, 0.01, 0.95)
k <- 0
for (n in c(3, 8, 25, 60, 150, 400, 1000, 3000, 10000, 30000, 100000)) {
  for (p in c(0.02, 0.3, 0.5, 0.77)) {
    k <- k + 1
    x <- rbinom(1, n, if (k %% 3 == 0) min(1, p * 1.15) else p)
    add_binom(x, n, p, confs[(k %% 3) + 1])
  }
}
add_binom(5, 3, 0.5, 0.95)     # errors in R
add_binom(1, 3, 1.5, 0.95)
add_binom(1, 3, 0.5, 1)
add_binom(0, 0, 0.5, 0.95)

# ---- poisson.test (two rates) ----
add_poisson(0, 1, 0, 2, 0.95)
add_poisson(3, 1, 0, 2, 0.95)
add_poisson(0, 1, 3, 2, 0.95)
add_poisson(0, 10, 0, 10, 0.90)
add_poisson(10, 1, 10, 1, 0.95)
add_poisson(10, 1000, 20, 1000, 0.95)
add_poisson(137, 2.5, 80, 1.25, 0.99)
add_poisson(100000, 1, 99000, 1, 0.95)
add_poisson(100000, 3600, 50000, 7200, 0.90)
add_poisson(1, 1e-3, 1000, 1, 0.95)
add_poisson(5000, 1, 1, 1, 0.95)
add_poisson(1, 1, 5000, 1, 0.99)
add_poisson(42, 0.37, 17, 0.91, 0.95)
add_poisson(0, 5, 100000, 1, 0.95)
add_poisson(100000, 1, 0, 5, 0.95)
for (i in 1:30) {
  t <- signif(rexp(1, 1 / 100), 4)
  u <- signif(rexp(1, 1 / 100), 4)
  rate <- 10^runif(1, -2, 2.5)
  x <- rpois(1, rate * t * (if (i %% 2 == 0) 1.3 else 1))
  y <- rpois(1, rate * u)
  add_poisson(x, t, y, u, confs[(i %% 3) + 1])
}
add_poisson(99000, 86400, 100000, 3600, 0.99)
add_poisson(7, 1e-6, 3, 1e6, 0.95)
add_poisson(1, 1, 1, -1, 0.95)   # errors in R
add_poisson(1, 1, 1, 1, 1.5)

# ---- fisher.test ----
add_fisher(3, 1, 1, 3)
add_fisher(0, 0, 0, 0)
add_fisher(0, 5, 0, 7)
add_fisher(5, 0, 0, 5)
add_fisher(0, 5, 5, 0)
add_fisher(1, 0, 0, 0)
add_fisher(10, 10, 10, 10)
add_fisher(2, 8, 8, 2)
add_fisher(12, 5, 3, 20)
add_fisher(100, 0, 0, 100)
add_fisher(1000, 1000, 1000, 1000)
add_fisher(1000, 1100, 1000, 1000)
add_fisher(5000, 4000, 4000, 5000)   # p-value far below 1e-300
add_fisher(3000, 3100, 2900, 3050)
add_fisher(5, 9995, 20, 9980)
add_fisher(0, 10000, 7, 9993)
add_fisher(2, 40000, 30, 50000)
add_fisher(50000, 50000, 49000, 51000)
add_fisher(7, 1, 2, 12345)
for (i in 1:30) {
  n1 <- round(10^runif(1, 0.5, 4))
  n2 <- round(10^runif(1, 0.5, 4))
  p1 <- runif(1, 0.01, 0.5)
  p2 <- if (i %% 2 == 0) p1 else min(0.99, p1 * runif(1, 1, 2))
  a <- rbinom(1, n1, p1)
  c <- rbinom(1, n2, p2)
  add_fisher(a, n1 - a, c, n2 - c)
}
add_fisher(1000000, 1000000, 1000000, 1000000)
add_fisher(1001000, 1000000, 1000000, 1000000)
add_fisher(1000000, 3000, 2000, 1000000)   # far below 1e-300: R underflows
add_fisher(2^31, 0, 0, 1)   # error in R: too large to be integer

# ---- fligner.test ----
add_fligner("fligner-tiny-3x3", c(1.2, 3.4, 2.2), c(0.5, 9.1, 4.4))
add_fligner("fligner-1x2", c(5), c(1, 3))
add_fligner("fligner-constant", c(1, 1, 1), c(5, 5))
add_fligner("fligner-all-ties-abs", c(1, 3), c(5, 7))
add_fligner("fligner-identical", c(1, 2, 3, 4, 5), c(1, 2, 3, 4, 5))
add_fligner("fligner-spread10-n2000", rnorm(2000, 0, 10), rnorm(2000, 0, 1))
add_fligner("fligner-spread3-n1500", rnorm(1500, 0, 3), rexp(1200))
add_fligner("fligner-empty-y", c(1, 2, 3), numeric(0))   # error in R
sizes <- list(c(3, 4), c(5, 5), c(8, 12), c(10, 10), c(15, 25), c(30, 30), c(50, 40),
              c(100, 100), c(200, 150), c(500, 500), c(1000, 800), c(2000, 2000))
gens <- list(
  normal = function(n, s) rnorm(n, 10, s),
  rounded = function(n, s) round(rnorm(n, 5, s), 1),   # ties
  poisson = function(n, s) rpois(n, 4 * s),            # many ties
  latency = function(n, s) 0.2 + rexp(n, 1 / (0.02 * s)),
  t3 = function(n, s) rt(n, 3) * s
)
k <- 0
for (g in names(gens)) {
  for (sz in sizes) {
    k <- k + 1
    if (sz[1] >= 1000 && k %% 2 == 1) next
    spread <- if (k %% 2 == 0) 1.6 else 1
    x <- gens[[g]](sz[1], spread)
    y <- gens[[g]](sz[2], 1)
    add_fligner(sprintf("fligner-%s-n%d-m%d-spread%g", g, sz[1], sz[2], spread), x, y)
  }
}

out <- file.path("fixtures", "stats", "more-reference.json")
dir.create(dirname(out), recursive = TRUE, showWarnings = FALSE)
con <- file(out, "w")
writeLines(paste0(
  "{\"generator\":\"scripts/r-reference/generate-more.R\",\"r_version\":",
  str_json(R.version.string),
  ",\n\"binom\":[\n", paste(binom, collapse = ",\n"),
  "\n],\n\"poisson\":[\n", paste(poisson, collapse = ",\n"),
  "\n],\n\"fisher\":[\n", paste(fisher, collapse = ",\n"),
  "\n],\n\"fligner\":[\n", paste(fligner, collapse = ",\n"), "\n]}"
), con)
close(con)
cat(sprintf("wrote %d binom, %d poisson, %d fisher, %d fligner cases to %s\n",
            length(binom), length(poisson), length(fisher), length(fligner), out))
