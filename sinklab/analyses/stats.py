"""Small summaries shared by the analyses: percentiles, mean ± standard error, and % of a baseline."""
from __future__ import annotations

import pandas as pd


def percentiles(df: pd.DataFrame, by, value: str) -> pd.DataFrame:
    """p10, p50, p90, mean, std of `value` per group `by`."""
    g = df.groupby(by)[value]
    out = g.quantile([0.1, 0.5, 0.9]).unstack()
    out.columns = ["p10", "p50", "p90"]
    out["mean"], out["std"] = g.mean(), g.std()
    return out.reset_index()


def mean_se(df: pd.DataFrame, by, value: str) -> pd.DataFrame:
    """n, mean and standard error (std / sqrt(n)) of `value` per group `by`."""
    g = df.groupby(by)[value]
    out = pd.DataFrame({"n": g.count(), "mean": g.mean(), "se": g.std(ddof=1) / g.count() ** 0.5})
    out["se"] = out["se"].fillna(0.0)
    return out.reset_index()


def percent_of(value, baseline):
    """100 · value / baseline: a sink as % of the baseline sink (the one place it is computed). Tables and arrays
    divide elementwise (a zero baseline gives inf or NaN, as numpy does); a scalar zero baseline gives NaN."""
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return 100 * value / baseline if baseline else float("nan")
    return 100 * value / baseline
