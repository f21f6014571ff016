#!/usr/bin/env Rscript
# Reference values for src/stats/signed_rank.rs (R's paired wilcox.test) and
# src/stats/paired.rs (pairing correlation, Spearman correlation of sums and differences).
#
# Writes fixtures/stats/signed-rank-reference.json: a list of cases, each with x (canary), y
# (baseline), conf, and what R 4.2 returns for
#   wilcox.test(x, y, paired = TRUE, conf.int = TRUE, conf.level = conf)      -> exact/normal
#   wilcox.test(x, y, paired = TRUE, conf.int = TRUE, conf.level = conf, exact = FALSE)
#   cor(x, y); cor(x + y, x - y, method = "spearman")
#   p_inflated4: the normal branch's p-value with the variance of V inflated 4 times,
#   referred to Student's t on n / 4 - 1 degrees of freedom (signed_rank_inflated)
# Numbers with sprintf("%.17g"); inputs as strings (exact doubles for Rust).
# Run from the repository root (base R only, deterministic through set.seed):
#   Rscript scripts/r-reference/generate-signed-rank.R
set.seed(20261123)
numj <- function(v) if (is.na(v)) "\"NaN\"" else sprintf("%.17g", v)
inj <- function(v) paste0("[", paste0("\"", sprintf("%.17g", v), "\"", collapse = ","), "]")
w <- function(r) sprintf("{\"statistic\":%s,\"p_value\":%s,\"estimate\":%s,\"ci\":[%s,%s],\"confidence\":%s}",
  numj(r$statistic), numj(r$p.value), numj(r$estimate), numj(r$conf.int[1]), numj(r$conf.int[2]),
  numj(attr(r$conf.int, "conf.level")))
cases <- list()
sizes <- c(5, 8, 12, 20, 30, 49, 50, 60, 120)
for (n in sizes) for (kind in c("normal", "shift", "ties", "pattern")) {
  y <- rnorm(n)
  x <- switch(kind,
    normal = rnorm(n),
    shift = rnorm(n) + 0.5,
    ties = round(rnorm(n) * 3) / 3 + y,
    pattern = { p <- sin(seq_len(n) / 9); y <<- p + 0.1 * rnorm(n); p + 0.1 * rnorm(n) + 0.05 })
  conf <- if (n == 8) 0.99 else 0.95
  a <- suppressWarnings(wilcox.test(x, y, paired = TRUE, conf.int = TRUE, conf.level = conf))
  b <- suppressWarnings(wilcox.test(x, y, paired = TRUE, conf.int = TRUE, conf.level = conf, exact = FALSE))
  # The normal branch with the variance of V inflated 4 times (autocorrelated differences),
  # referred to Student's t on n / 4 - 1 degrees of freedom (at least 1), n the non-zero
  # differences: signed_rank_inflated(x, y, conf, 4).
  d <- x - y; d <- d[d != 0]; nd <- length(d); r <- rank(abs(d)); nt <- table(r)
  v <- sum(r[d > 0]); z <- v - nd * (nd + 1) / 4
  sigma <- sqrt(4 * (nd * (nd + 1) * (2 * nd + 1) / 24 - sum(nt^3 - nt) / 48))
  zs <- (z - sign(z) * 0.5) / sigma; df <- max(nd / 4 - 1, 1)
  p4 <- 2 * min(pt(zs, df), pt(zs, df, lower.tail = FALSE))
  cases[[length(cases) + 1]] <- sprintf(
    "{\"name\":\"%s-%d\",\"x\":%s,\"y\":%s,\"conf\":%s,\"exact\":%s,\"default\":%s,\"normal\":%s,\"pearson\":%s,\"spearman_sum_diff\":%s,\"p_inflated4\":%s}",
    kind, n, inj(x), inj(y), numj(conf), tolower(as.character(grepl("exact", a$method))), w(a), w(b),
    numj(cor(x, y)), numj(cor(x + y, x - y, method = "spearman")), numj(p4))
}
writeLines(c("{\"generator\": \"scripts/r-reference/generate-signed-rank.R\", \"cases\": [",
  paste(cases, collapse = ",\n"), "]}"), "fixtures/stats/signed-rank-reference.json")
