#!/usr/bin/env Rscript
# Reference values for canaryd's change point (src/stats/change_point.rs), the dependence
# estimate around it (change_robust_lag1 in src/stats/autocorrelation.rs) and the mean test
# with the baseline's variance (src/stats/mean_shift.rs).
#
# Writes fixtures/stats/change-point-reference.json:
#   change:  series of 20 to 200 points, independent or AR(1) noise, with and without a step;
#            for each: strucchange::breakpoints(y ~ 1, h = max(3, floor(0.15 n)), breaks = 1)
#            (the least-squares break), the acf of the residuals around the two segment
#            means, rho = (n r + 2) / (n - 8) (n > 16) within [-1, 1], the Wald statistic
#            (m2 - m1)^2 / (s2 (1 + p) / (1 - p) (1/k + 1/(n - k))) with p = rho within
#            [0, 0.99] and s2 = RSS / (n - 2), Bai's interval k -+ ceiling(11 lr / d^2) within
#            [1, n - 1], and strucchange's own confint(breaks = 1) (Bai's exact, asymmetric
#            distribution) for comparison
#   mean:    pairs (x canary, y baseline) with effective sizes ex, ey:
#            (mean(x) - mean(y)) / (sd(y) sqrt(1/ex + 1/ey)) on ey - 1 degrees of freedom
#            (pt, qt), with its interval at conf
# Numbers are written with sprintf("%.17g"); inputs exactly (doubles printed with 17 digits).
#
# Needs R 4.2 and Debian's r-cran-strucchange. Run from the repository root:
#   Rscript scripts/r-reference/generate-change-point.R
# The test suite (tests/canaryd/stats_change_point.rs) reads the JSON and does not need R.

suppressMessages(library(strucchange))
set.seed(20261201)

numj <- function(v) {
  if (is.na(v)) return("null")
  if (v == Inf) return("\"Inf\"")
  if (v == -Inf) return("\"-Inf\"")
  sprintf("%.17g", v)
}
vecj <- function(v) paste0("[", paste(vapply(as.numeric(v), numj, ""), collapse = ","), "]")

ar1 <- function(n, rho) as.numeric(arima.sim(list(ar = rho), n) * sqrt(1 - rho^2))

changes <- character(0)
for (i in 1:60) {
  n <- sample(c(20, 30, 60, 120, 200), 1)
  rho <- sample(c(0, 0, 0.5, 0.8), 1)
  noise <- if (rho == 0) rnorm(n) else ar1(n, rho)
  step <- sample(c(0, 0, 1, 3, 6), 1)
  at <- sample(round(0.2 * n):round(0.8 * n), 1)
  y <- signif(100 + 5 * noise + ifelse(seq_len(n) > at, 5 * step, 0), 10)
  h <- max(3, floor(0.15 * n))
  full <- breakpoints(y ~ 1, h = h)
  b <- breakpoints(full, breaks = 1)$breakpoints
  m1 <- mean(y[1:b]); m2 <- mean(y[(b + 1):n])
  r <- c(y[1:b] - m1, y[(b + 1):n] - m2)
  lag1 <- acf(r, lag.max = 1, plot = FALSE)$acf[2]
  rt <- if (n > 16) min(1, max(-1, (n * lag1 + 2) / (n - 8))) else lag1
  p <- min(0.99, max(0, rt))
  s2 <- sum(r^2) / (n - 2)
  lr <- s2 * (1 + p) / (1 - p)
  d <- m2 - m1
  wald <- d^2 / (lr * (1 / b + 1 / (n - b)))
  half <- min(n, ceiling(11 * lr / d^2))
  sc <- tryCatch(confint(full, breaks = 1, level = 0.95)$confint, error = function(e) c(NA, NA, NA))
  changes <- c(changes, sprintf(
    "{\"y\":%s,\"rho\":%s,\"step\":%s,\"at\":%d,\"index\":%d,\"residual_lag1\":%s,\"residual_rho\":%s,\"wald\":%s,\"interval\":[%d,%d],\"strucchange_interval\":[%s,%s]}",
    vecj(y), numj(rho), numj(step), at, b, numj(lag1), numj(rt), numj(wald),
    max(1, b - half), min(n - 1, b + half), numj(sc[1]), numj(sc[3])))
}

means <- character(0)
for (i in 1:40) {
  n <- sample(c(5, 20, 60, 120), 1); m <- sample(c(5, 20, 60, 120), 1)
  y <- signif(rlnorm(m, 5, 0.3), 10)
  x <- signif(rlnorm(n, 5, 0.3), 10)
  if (i %% 3 == 0) { hit <- sample(n, max(1, n %/% 10)); x[hit] <- x[hit] * 6 }
  ex <- if (i %% 2 == 0) n else max(1, n * runif(1, 0.1, 1))
  ey <- if (i %% 2 == 0) m else max(2, m * runif(1, 0.1, 1))
  conf <- sample(c(0.95, 0.99, 0.9875), 1)
  se <- sd(y) * sqrt(1 / ex + 1 / ey)
  df <- max(1, ey - 1)
  t <- (mean(x) - mean(y)) / se
  pv <- min(1, 2 * pt(-abs(t), df))
  q <- qt((1 + conf) / 2, df)
  means <- c(means, sprintf(
    "{\"x\":%s,\"y\":%s,\"ex\":%s,\"ey\":%s,\"conf\":%s,\"difference\":%s,\"statistic\":%s,\"df\":%s,\"p_value\":%s,\"ci\":[%s,%s]}",
    vecj(x), vecj(y), numj(ex), numj(ey), numj(conf), numj(mean(x) - mean(y)), numj(t), numj(df),
    numj(pv), numj(mean(x) - mean(y) - q * se), numj(mean(x) - mean(y) + q * se)))
}

# strucchange's p-values of sup-Wald statistics at 15% trimming (Hansen's approximation), for
# the cautious approximation of sup_wald_p_value.
pvals <- character(0)
for (x in c(4, 6, 8, 8.61, 10, 12.07, 14, 16.91, 20)) {
  pvals <- c(pvals, sprintf("{\"wald\":%s,\"p_value\":%s}", numj(x),
    numj(strucchange:::pvalue.Fstats(x, type = "supF", k = 1, lambda = (0.85 / 0.15)^2))))
}

out <- file("fixtures/stats/change-point-reference.json", "w")
writeLines(c(
  "{\"generator\": \"scripts/r-reference/generate-change-point.R\",",
  sprintf("\"r\": \"%s\", \"strucchange\": \"%s\",", R.version.string, packageVersion("strucchange")),
  "\"change\": [", paste(changes, collapse = ",\n"), "],",
  "\"mean\": [", paste(means, collapse = ",\n"), "],",
  "\"sup_wald\": [", paste(pvals, collapse = ",\n"), "]}"), out)
close(out)
