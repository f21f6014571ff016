//! Per-metric classification, group scoring, the verdict and its reasons (CONTRACT §4, §5).
