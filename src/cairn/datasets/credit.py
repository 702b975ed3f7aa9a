"""Synthetic consumer-loan applications with a default label, for demos and tests.

The generator is a small structural model of a lending portfolio, not independent columns: age
drives income, tenure, housing and credit history; a latent creditworthiness drives the credit
score, past delinquencies and debt load; the lender prices the loan from the score and term; and
``defaulted`` is drawn from a logistic model of the observed features plus an unobserved part.
A good model therefore reaches a ROC AUC of about 0.8, the base default rate is about 15 %, and
the youngest age band defaults more often through its features (lower income and score, shorter
tenure), which gives fairness checks a real but modest disparity to measure.

``drift`` moves the population and the feature-label relation the way a portfolio drifts in a
downturn, so monitoring can detect both data drift and performance decay. See
:func:`make_credit_applications` for which columns move.

Same arguments give an identical frame (with the same numpy version: numpy does not promise
identical random streams across releases). Everything is vectorised numpy: a million rows take
0.6-1.2 s.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from cairn.errors import InvalidInput

__all__ = [
    "AGE_BANDS",
    "CATEGORICAL",
    "CATEGORIES",
    "COLUMNS",
    "DRIFTING",
    "FEATURES",
    "HOME_OWNERSHIP",
    "ID",
    "LABEL",
    "LOAN_PURPOSES",
    "NUMERIC",
    "SENSITIVE",
    "SEXES",
    "TIME",
    "make_credit_applications",
]

# --- schema -----------------------------------------------------------------------------------

ID = "applicant_id"
TIME = "application_time"
LABEL = "defaulted"

AGE_BANDS: tuple[str, ...] = ("18-25", "26-35", "36-50", "51-65", "65+")
SEXES: tuple[str, ...] = ("female", "male")
HOME_OWNERSHIP: tuple[str, ...] = ("rent", "mortgage", "own")
#: ``bnpl_refinance`` (refinancing buy-now-pay-later debt) is the "new product": about 1 % of
#: applications at ``drift=0``, about 14 % at ``drift=1``.
LOAN_PURPOSES: tuple[str, ...] = (
    "debt_consolidation",
    "credit_card",
    "home_improvement",
    "car",
    "medical",
    "small_business",
    "education",
    "bnpl_refinance",
)

#: Every categorical column and its fixed categories (the same whatever the sample holds).
CATEGORIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "age_band": AGE_BANDS,
        "sex": SEXES,
        "home_ownership": HOME_OWNERSHIP,
        "loan_purpose": LOAN_PURPOSES,
    }
)

#: Protected attributes for fairness checks. They are in the frame but not in FEATURES.
SENSITIVE: tuple[str, ...] = ("age_band", "sex")

# The column groups are tuples (immutable); index a frame with a list: ``df[list(FEATURES)]``.

#: Model inputs that are numbers (int64 or float64; ``employment_years`` has NaNs).
NUMERIC: tuple[str, ...] = (
    "age",
    "annual_income",
    "employment_years",
    "loan_amount",
    "term_months",
    "interest_rate",
    "credit_score",
    "debt_to_income",
    "num_credit_lines",
    "num_delinquencies",
)
#: Model inputs that are pandas ``category`` columns.
CATEGORICAL: tuple[str, ...] = ("home_ownership", "loan_purpose")
#: All model inputs, in frame order. Excludes the id, the time, the label and SENSITIVE columns.
FEATURES: tuple[str, ...] = (
    "age",
    "annual_income",
    "employment_years",
    "home_ownership",
    "loan_purpose",
    "loan_amount",
    "term_months",
    "interest_rate",
    "credit_score",
    "debt_to_income",
    "num_credit_lines",
    "num_delinquencies",
)
#: Every column of the frame, in order.
COLUMNS: tuple[str, ...] = (ID, TIME, "age", "age_band", "sex", *FEATURES[1:], LABEL)

#: Columns whose distribution ``drift`` moves directly (others move only through these).
DRIFTING: tuple[str, ...] = (
    "age",
    "age_band",
    "annual_income",
    "loan_purpose",
    "interest_rate",
    "credit_score",
    "debt_to_income",
    "num_delinquencies",
    LABEL,
)

# --- model constants --------------------------------------------------------------------------

_AGE_BAND_EDGES = np.array([25, 35, 50, 65])  # upper bounds (inclusive) of all but the last band
_MISSING_EMPLOYMENT = 0.02  # share of employment_years left NaN, as unreported
_REF_INCOME = math.log(45_000.0)

# Multinomial-logit base weights for loan purpose: log base share, slope per year of age over
# 35, extra log-odds for home owners; in LOAN_PURPOSES order.
_PURPOSE_LOG_SHARE = np.log([0.40, 0.20, 0.10, 0.10, 0.05, 0.05, 0.06, 0.01])
_PURPOSE_AGE_SLOPE = np.array([0.0, -0.005, 0.01, -0.01, 0.02, 0.01, -0.07, -0.02])
_PURPOSE_OWNER_BONUS = np.array([0.0, 0.0, 1.2, 0.0, 0.0, 0.2, -0.5, 0.0])
# Typical loan amount as a share of annual income, per purpose.
_PURPOSE_AMOUNT_RATIO = np.array([0.28, 0.15, 0.30, 0.35, 0.12, 0.45, 0.30, 0.10])
# Extra default log-odds per purpose, before drift.
_PURPOSE_RISK = np.array([0.0, -0.1, -0.15, -0.2, 0.25, 0.5, 0.15, 0.4])

_DEBT_PURPOSES = np.array([1.0, 1.0, 0, 0, 0, 0, 0, 1.0])  # purposes that signal existing debt
_CAR = LOAN_PURPOSES.index("car")  # car loans more often run 60 months


def make_credit_applications(
    n_rows: int = 10_000,
    *,
    seed: int = 0,
    drift: float = 0.0,
    start: str | datetime | date = "2026-01-01",
    days: float = 30.0,
    first_id: int = 1,
) -> pd.DataFrame:
    """Generate ``n_rows`` synthetic loan applications, one row each, with a ``defaulted`` label.

    Arguments:
        n_rows: number of applications (at least 1).
        seed: seed of ``numpy.random.default_rng``; the same arguments give an identical frame.
        drift: 0 is the reference portfolio, 1 a fully drifted one, values between interpolate.
        start: time of the first possible application (naive times are taken as UTC; aware ones
            are converted to UTC).
        days: length of the period the application times spread over, from ``start``.
        first_id: ``applicant_id`` of the first row; ids run consecutively from it, so frames
            made for successive periods can be given disjoint ids.

    Columns, in order (see also ``COLUMNS``, ``FEATURES``, ``LABEL``, ``SENSITIVE``). Categorical
    columns are pandas ``category`` dtype that always carries all the categories in
    ``CATEGORIES``, whatever the sample holds, so one-hot encodings line up across frames.

    ===================  ==================  ===================================================
    applicant_id         int64               unique, consecutive from ``first_id``
    application_time     datetime64[ns]      sorted, whole seconds, uniform over ``days``, UTC
    age                  int64               18-80, skewed young (median 36)
    age_band             category (ordered)  18-25, 26-35, 36-50, 51-65, 65+ (sensitive)
    sex                  category            female, male (sensitive)
    annual_income        float64             log-normal (median ~43k), rises with age to 50
                                             and with tenure
    employment_years     float64             0 to age-18, one decimal, about 2 % NaN
    home_ownership       category            rent, mortgage, own; depends on age and income
    loan_purpose         category            LOAN_PURPOSES; depends on age and housing
    loan_amount          float64             1,000-40,000; scales with income and purpose
    term_months          int64               36 or 60; 60 more likely for larger loans
    interest_rate        float64             annual %, priced from credit score and term
    credit_score         int64               300-850; rises with age and income, falls with
                                             delinquencies
    debt_to_income       float64             existing monthly debt / monthly income, 0-0.95
    num_credit_lines     int64               1 or more; rises with age and income
    num_delinquencies    int64               Poisson; higher for low creditworthiness
    defaulted            int64               0/1 label, about 15 % at ``drift=0``
    ===================  ==================  ===================================================

    What ``drift`` (d) changes; the mechanisms scale linearly with d, and the figures are the
    shifts of the whole population at d=1 (``DRIFTING`` lists the columns):

    * data drift: younger applicants (median ``age`` 36 -> 32, ``age_band`` shifts to the young
      bands); ``annual_income`` 12 % lower at the same profile (median -23 % overall);
      latent creditworthiness lower, so ``credit_score`` drops (median 660 -> 628) and
      ``num_delinquencies`` rises (mean 0.34 -> 0.45); ``debt_to_income`` 30 % higher at the
      same profile (median 0.18 -> 0.25); the new ``bnpl_refinance`` ``loan_purpose`` grows
      from about 1 % to 14 %; ``interest_rate`` 1.5 points higher on the rate card (median
      13.0 -> 16.1 with the lower scores). Housing, tenure and loan amounts follow through their
      dependence on these; ``sex`` does not drift.
    * concept drift: the credit score's weight in the risk halves, debt load and
      ``bnpl_refinance`` weigh more, the unobserved part of the risk grows and everyone is more
      likely to default. The default rate rises to about 32 %, and a gradient-boosted model
      fitted at d=0 falls from ROC AUC ~0.80 to ~0.75 (one refitted on drifted data: ~0.77).

    Raises:
        InvalidInput: an argument has the wrong type or is out of range; the error names it.
    """
    _check_int("n_rows", n_rows, 1)
    _check_int("seed", seed, 0)
    _check_int("first_id", first_id, 0)
    d = _check_drift(drift)
    origin = _check_start(start)
    if (
        not isinstance(days, numbers.Real)
        or isinstance(days, bool)
        or not math.isfinite(days)
        or days <= 0
    ):
        raise InvalidInput.for_field("days", days, "a positive number of days")

    n = int(n_rows)
    rng = np.random.default_rng(int(seed))

    # Arrival times: normalised cumulative exponential gaps are sorted uniform order statistics.
    gaps = rng.standard_exponential(n + 1)
    period_ns = float(days) * 86_400e9
    offsets = np.cumsum(gaps[:-1]) * (period_ns / gaps.sum())
    offsets = (offsets // 1e9).astype(np.int64) * 1_000_000_000  # whole seconds
    times = np.datetime64(origin.value, "ns") + offsets.astype("timedelta64[ns]")

    # Demographics. Age is 18 + a gamma draw; drift shrinks the scale (younger applicants).
    age_f = 18.0 + rng.gamma(2.2, 9.5 * (1.0 - 0.22 * d), n)
    too_old = age_f > 80.5
    age_f[too_old] = rng.uniform(50.0, 80.5, np.count_nonzero(too_old))  # no pile-up at 80
    age = np.rint(age_f).astype(np.int64)
    female = rng.random(n) < 0.49

    # Latent creditworthiness: unobserved, drives score, delinquencies, debt load and the label.
    z = rng.standard_normal(n) - 0.35 * d

    # Tenure at the current employer, bounded by the years since 18.
    years_adult = (age - 18).astype(np.float64)
    employment = np.round(rng.beta(1.5, 3.0, n) * years_adult, 1)

    # Income: log-normal, rising with age up to 50 and with tenure; a modest gender pay gap.
    log_income = (
        math.log(26_000.0)
        + 0.022 * (np.minimum(age, 50) - 18)
        + 0.02 * np.minimum(employment, 20.0)
        - 0.08 * female
        + 0.10 * z
        + 0.45 * rng.standard_normal(n)
        - 0.13 * d
    )
    income = np.maximum(np.round(np.exp(log_income), -2), 6_000.0)
    log_income = np.log(income)
    inc_dev = log_income - _REF_INCOME

    # Housing: multinomial logit over (rent, mortgage, own), sampled by inverse CDF.
    home_logits = np.empty((n, 3))
    home_logits[:, 0] = 0.0
    home_logits[:, 1] = -2.0 + 0.07 * (np.minimum(age, 60) - 18) + 0.9 * inc_dev
    home_logits[:, 2] = -4.0 + 0.07 * (age - 18) + 0.5 * inc_dev
    home = _draw_categories(rng, home_logits)
    owner = home > 0

    # Loan purpose: multinomial logit on age and housing; the new purpose grows with drift.
    purpose_logits = np.empty((n, len(LOAN_PURPOSES)))
    purpose_logits[:] = _PURPOSE_LOG_SHARE
    purpose_logits[:, -1] += d * math.log(17.0)
    purpose_logits += (age - 35.0)[:, None] * _PURPOSE_AGE_SLOPE
    purpose_logits[owner] += _PURPOSE_OWNER_BONUS
    purpose = _draw_categories(rng, purpose_logits)

    # Amount: a purpose-specific share of income, within the lender's limits.
    amount = income * _PURPOSE_AMOUNT_RATIO[purpose] * np.exp(0.45 * rng.standard_normal(n))
    amount = np.clip(np.round(amount, -2), 1_000.0, 40_000.0)
    long_term_logit = -1.0 + 1.4 * (np.log(amount) - math.log(15_000.0)) + 0.5 * (purpose == _CAR)
    long_term = rng.random(n) < _sigmoid(long_term_logit)
    term = np.where(long_term, 60, 36).astype(np.int64)

    # Credit history.
    delinquencies = rng.poisson(np.exp(np.minimum(-1.4 - 0.8 * z, 1.5))).astype(np.int64)
    lines = 1 + rng.poisson(
        np.maximum(1.5 + 0.12 * np.minimum(age - 18, 30) + 1.0 * inc_dev, 0.3)
    ).astype(np.int64)
    score = (
        640.0
        + 55.0 * z
        + 1.3 * (np.minimum(age, 60) - 18)
        + 25.0 * inc_dev
        - 18.0 * delinquencies
        + 15.0 * rng.standard_normal(n)
    )
    score = np.clip(np.rint(score), 300, 850).astype(np.int64)
    log_dti = (
        math.log(0.16)
        + 0.04 * (lines - 5)
        - 0.12 * z
        + 0.2 * _DEBT_PURPOSES[purpose]
        - 0.15 * inc_dev
        + 0.4 * rng.standard_normal(n)
        + math.log1p(0.3 * d)
    )
    dti = np.round(np.clip(np.exp(log_dti), 0.0, 0.95), 4)

    # Pricing: the lender's rate card from score and term, plus rate-environment drift.
    rate = 7.0 + 0.055 * (760 - score) + 2.0 * long_term + 1.5 * d + 1.0 * rng.standard_normal(n)
    rate = np.round(np.clip(rate, 5.0, 35.99), 2)

    # Label: logistic in the features plus the unobserved part of creditworthiness.
    # Concept drift: the score explains less, debt load and the new purpose more, the
    # unobserved part grows, and everyone is more likely to default.
    purpose_risk = _PURPOSE_RISK.copy()
    purpose_risk[-1] *= 1.0 + 1.5 * d
    logit = (
        -2.7
        + 0.45 * d
        - 0.5 * (1.0 - 0.5 * d) * (score - 680) / 50.0
        + 0.3 * (1.0 + 0.8 * d) * (dti - 0.2) / 0.1
        + 0.2 * delinquencies
        + 0.25 * long_term
        + 0.35 * (amount / income - 0.25) / 0.15
        - 0.04 * np.minimum(employment, 10.0)
        + 0.2 * (home == 0)
        + purpose_risk[purpose]
        + 0.04 * (rate - 12.0)
        - 0.3 * z
        + 0.6 * (1.0 + 0.5 * d) * rng.standard_normal(n)
    )
    defaulted = (rng.random(n) < _sigmoid(logit)).astype(np.int64)

    # Unreported tenure, after the label is drawn from the true value.
    employment[rng.random(n) < _MISSING_EMPLOYMENT] = np.nan

    band = np.searchsorted(_AGE_BAND_EDGES, age, side="left")
    frame = pd.DataFrame(
        {
            ID: np.arange(first_id, first_id + n, dtype=np.int64),
            TIME: times,
            "age": age,
            "age_band": _categorical(band, "age_band", ordered=True),
            "sex": _categorical(np.where(female, 0, 1), "sex"),
            "annual_income": income,
            "employment_years": employment,
            "home_ownership": _categorical(home, "home_ownership"),
            "loan_purpose": _categorical(purpose, "loan_purpose"),
            "loan_amount": amount,
            "term_months": term,
            "interest_rate": rate,
            "credit_score": score,
            "debt_to_income": dti,
            "num_credit_lines": lines,
            "num_delinquencies": delinquencies,
            LABEL: defaulted,
        },
        copy=False,
    )
    return frame


# --- helpers ----------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw_categories(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One category index per row, with probabilities softmax(logits row), by inverse CDF.

    Works in place on ``logits`` (which it overwrites) to spare allocations on large frames.
    """
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    np.cumsum(logits, axis=1, out=logits)
    u = rng.random(len(logits)) * logits[:, -1]
    return np.count_nonzero(logits < u[:, None], axis=1)


def _categorical(codes: np.ndarray, column: str, *, ordered: bool = False) -> pd.Categorical:
    dtype = pd.CategoricalDtype(list(CATEGORIES[column]), ordered=ordered)
    return pd.Categorical.from_codes(codes.astype(np.int8), dtype=dtype)


def _check_int(field: str, value: Any, minimum: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise InvalidInput.for_field(field, value, f"an integer >= {minimum}")


def _check_drift(value: Any) -> float:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0.0 <= float(value) <= 1.0  # also rejects NaN
    ):
        raise InvalidInput.for_field("drift", value, "a number from 0 to 1")
    return float(value)


def _check_start(value: Any) -> pd.Timestamp:
    if not isinstance(value, str | datetime | date):
        raise InvalidInput.for_field("start", value, "a date or time (str or datetime)")
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInput.for_field("start", value, "a date or time (str or datetime)") from exc
    if ts is pd.NaT:
        raise InvalidInput.for_field("start", value, "a date or time (str or datetime)")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.as_unit("ns")
