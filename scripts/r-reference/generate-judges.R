#!/usr/bin/env Rscript
# Reference values for canaryd's quantile, scale and auto judges and the autocorrelation
# correction (src/stats/autocorrelation.rs, quantile_compare.rs, brown_forsythe.rs and
# mann_whitney_inflated in mann_whitney.rs).
#
# Writes fixtures/stats/judges-reference.json with four lists of cases, each with its inputs and
# what R 4.2 returns:
#   pairs:    the samples (x is the canary, y the baseline); every case names one by index
#   acf:      acf(x, lag.max = 1, plot = FALSE)$acf[2], and the effective size
#             n (1 - r) / (1 + r) with r bias-corrected to (n r + 1) / (n - 4) (n > 8) when
#             that is > 0.1 (kept within [min(n, 2), n]), else n
#   scale:    Brown-Forsythe on x (canary) and y (baseline): with zx = abs(x - median(x)),
#             zy likewise, t.test(zx, zy, var.equal = TRUE, conf.level = conf) -> t, p.value,
#             conf.int, and oneway.test(z ~ g, var.equal = TRUE)$statistic -> F; with effective
#             sizes mx < nx or my < ny the same t test written out (pooled variance from all
#             points, standard error with mx and my, df mx + my - 2; pt and qt)
#   quantile: the Woodruff order-statistic comparison, written out in base R from its
#             definition: quantile(type = 7) of each side; se = (Q(q + h) - Q(q - h)) / (2 z0)
#             with h = z0 sqrt(q (1 - q) / m), z0 = qnorm(0.975); the difference
#             +- qnorm((1 + conf) / 2) sqrt(se_x^2 + se_y^2); p = 2 pnorm(-|d| / se)
#   wilcox:   wilcox.test(x, y, conf.int = TRUE, conf.level = conf, exact = FALSE) (the
#             normal branch that mann_whitney_inflated reproduces with inflations 1); with
#             inflations dx, dy the p-value with R's sigma multiplied by
#             sqrt((m dx + n dy + 1) / (n + m + 1)), referred to Student's t on
#             n / dx + m / dy - 2 degrees of freedom when either inflation is above 1
# Numbers are written with sprintf("%.17g"); inputs as strings (exact doubles for Rust).
#
# Run from the repository root (base R only, deterministic through set.seed):
#   Rscript scripts/r-reference/generate-judges.R
# The test suite (tests/canaryd/stats_judges.rs) reads the JSON and does not need R.

set.seed(20261122)

numj <- function(v) {
  if (is.na(v)) return("\"NaN\"")
  if (v == Inf) return("\"Inf\"")
  if (v == -Inf) return("\"-Inf\"")
  sprintf("%.17g", v)
}
vecj <- function(v) paste0("[", paste(vapply(as.numeric(v), numj, ""), collapse = ","), "]")
inj <- function(v) paste0("\"", sprintf("%.17g", v), "\"")
invecj <- function(v) paste0("[", paste(vapply(as.numeric(v), inj, ""), collapse = ","), "]")

effective <- function(x) {
  n <- length(x)
  r <- acf(x, lag.max = 1, plot = FALSE)$acf[2]
  # Marriott and Pope's (1954) bias correction for n > 8.
  if (!is.na(r) && n > 8) r <- max(min((n * r + 1) / (n - 4), 1), -1)
  if (!is.na(r) && r > 0.1) min(max(n * (1 - r) / (1 + r), min(n, 2)), n) else n
}

ar1 <- function(n, rho, mean, sd) {
  as.numeric(mean + sd * arima.sim(list(ar = rho), n) * sqrt(1 - rho^2))
}

samples <- list(
  function() list(x = rnorm(120, 100, 10), y = rnorm(120, 100, 10)),
  function() list(x = rnorm(80, 110, 25), y = rnorm(100, 100, 10)),
  function() list(x = rlnorm(150, log(0.2), 0.4), y = rlnorm(130, log(0.2), 0.3)),
  function() list(x = ar1(120, 0.7, 100, 10), y = ar1(120, 0.7, 100, 10)),
  function() list(x = ar1(200, 0.4, 0.3, 0.05), y = ar1(180, 0.9, 0.3, 0.05)),
  function() list(x = round(rnorm(60, 50, 5)), y = round(rnorm(70, 50, 5))),
  function() list(x = 0.1 * rt(100, 3) + 1, y = 0.1 * rt(100, 3) + 1),
  function() list(x = c(rnorm(108, 1, 0.1), 6 * rnorm(12, 1, 0.1)), y = rnorm(120, 1, 0.1)),
  function() list(x = rnorm(12, 5, 1), y = rnorm(9, 5, 2)),
  function() list(x = rexp(500, 1), y = rexp(600, 1.2))
)

pairs <- character(0); acfs <- character(0); scales <- character(0); quants <- character(0); wilc <- character(0)

for (i in seq_along(samples)) {
  for (rep in 1:3) {
    s <- samples[[i]]()
    x <- s$x; y <- s$y
    nx <- length(x); ny <- length(y)
    ex <- effective(x); ey <- effective(y)
    pairs <- c(pairs, sprintf("{\"x\":%s,\"y\":%s}", invecj(x), invecj(y)))
    k <- length(pairs) - 1
    for (v in list(x, y)) {
      r <- acf(v, lag.max = 1, plot = FALSE)$acf[2]
      acfs <- c(acfs, sprintf("{\"pair\":%d,\"side\":\"%s\",\"lag1\":%s,\"effective\":%s}", k,
                              if (identical(v, x)) "x" else "y", numj(r),
                              numj(effective(v))))
    }
    conf <- c(0.95, 0.9, 0.99)[rep]
    # Scale: R's t.test / oneway.test with independent points, written out with effective sizes.
    zx <- abs(x - median(x)); zy <- abs(y - median(y))
    for (eff in list(c(nx, ny), c(ex, ey))) {
      mx <- eff[1]; my <- eff[2]
      if (mx == nx && my == ny) {
        tt <- t.test(zx, zy, var.equal = TRUE, conf.level = conf)
        f <- oneway.test(z ~ g, data = data.frame(z = c(zx, zy), g = factor(c(rep("x", nx), rep("y", ny)))),
                         var.equal = TRUE)$statistic
        t <- unname(tt$statistic); p <- tt$p.value; ci <- tt$conf.int
      } else {
        sp2 <- (sum((zx - mean(zx))^2) + sum((zy - mean(zy))^2)) / (nx + ny - 2)
        se <- sqrt(sp2 * (1 / mx + 1 / my)); df <- mx + my - 2
        t <- (mean(zx) - mean(zy)) / se; p <- 2 * pt(-abs(t), df)
        qq <- qt(1 - (1 - conf) / 2, df); ci <- mean(zx) - mean(zy) + c(-1, 1) * qq * se
        f <- t^2
      }
      scales <- c(scales, sprintf(
        "{\"pair\":%d,\"conf\":%s,\"x_effective\":%s,\"y_effective\":%s,\"t\":%s,\"f\":%s,\"p_value\":%s,\"ci\":%s,\"x_spread\":%s,\"y_spread\":%s}",
        k, inj(conf), inj(mx), inj(my), numj(t), numj(unname(f)), numj(p), vecj(ci),
        numj(mean(zx)), numj(mean(zy))))
    }
    # Quantile: Woodruff, from its definition.
    for (q in c(0.5, 0.9, 0.95)) {
      for (eff in list(c(nx, ny), c(ex, ey))) {
        mx <- eff[1]; my <- eff[2]
        if (min(mx, my) * min(q, 1 - q) < 5) next
        z0 <- qnorm(0.975)
        se <- function(v, m) {
          h <- z0 * sqrt(q * (1 - q) / m)
          (quantile(v, min(q + h, 1), type = 7, names = FALSE) -
             quantile(v, max(q - h, 0), type = 7, names = FALSE)) / (2 * z0)
        }
        qx <- quantile(x, q, type = 7, names = FALSE); qy <- quantile(y, q, type = 7, names = FALSE)
        sx <- se(x, mx); sy <- se(y, my); s <- sqrt(sx^2 + sy^2); d <- qx - qy
        z <- qnorm((1 + conf) / 2)
        quants <- c(quants, sprintf(
          "{\"pair\":%d,\"q\":%s,\"conf\":%s,\"x_effective\":%s,\"y_effective\":%s,\"x_quantile\":%s,\"y_quantile\":%s,\"x_se\":%s,\"y_se\":%s,\"ci\":%s,\"p_value\":%s}",
          k, inj(q), inj(conf), inj(mx), inj(my), numj(qx), numj(qy), numj(sx), numj(sy),
          vecj(d + c(-1, 1) * z * s), numj(2 * pnorm(-abs(d) / s))))
      }
    }
    # Wilcoxon, normal branch; and its p-value with inflated variance.
    w <- wilcox.test(x, y, conf.int = TRUE, conf.level = conf, exact = FALSE)
    dx <- nx / ex; dy <- ny / ey
    r <- rank(c(x, y)); nt <- table(r)
    W <- sum(r[seq_len(nx)]) - nx * (nx + 1) / 2
    zz <- W - nx * ny / 2
    sigma <- sqrt((nx * ny / 12) * ((nx + ny + 1) - sum(nt^3 - nt) / ((nx + ny) * (nx + ny - 1))))
    sigma <- sigma * sqrt((ny * dx + nx * dy + 1) / (nx + ny + 1))
    pz <- (zz - sign(zz) * 0.5) / sigma
    if (dx > 1 || dy > 1) {
      # Referred to Student's t on the effective sizes' degrees of freedom.
      df <- nx / dx + ny / dy - 2
      p_infl <- 2 * min(pt(pz, df), pt(pz, df, lower.tail = FALSE))
    } else {
      p_infl <- 2 * min(pnorm(pz), pnorm(pz, lower.tail = FALSE))
    }
    wilc <- c(wilc, sprintf(
      "{\"pair\":%d,\"conf\":%s,\"statistic\":%s,\"p_value\":%s,\"estimate\":%s,\"ci\":%s,\"x_inflation\":%s,\"y_inflation\":%s,\"p_value_inflated\":%s}",
      k, inj(conf), numj(unname(w$statistic)), numj(w$p.value), numj(unname(w$estimate)),
      vecj(w$conf.int), inj(dx), inj(dy), numj(p_infl)))
  }
}

out <- paste0("{\"generator\":\"scripts/r-reference/generate-judges.R\",\"r_version\":\"",
              R.version.string, "\",\n\"pairs\":[\n", paste(pairs, collapse = ",\n"),
              "],\n\"acf\":[\n", paste(acfs, collapse = ",\n"),
              "],\n\"scale\":[\n", paste(scales, collapse = ",\n"),
              "],\n\"quantile\":[\n", paste(quants, collapse = ",\n"),
              "],\n\"wilcox\":[\n", paste(wilc, collapse = ",\n"), "]}\n")
writeLines(out, "fixtures/stats/judges-reference.json", sep = "")
cat(sprintf("wrote %d acf, %d scale, %d quantile, %d wilcox cases\n",
            length(acfs), length(scales), length(quants), length(wilc)))
