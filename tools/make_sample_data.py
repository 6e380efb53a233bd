"""Regenerate the bundled sample datasets in common/data/ (deterministic: same seed, same bytes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent.parent / "common" / "data"
ROWS = 800


def customer_churn(rng: np.random.Generator) -> pd.DataFrame:
    """Subscribers whose churn odds rise with support calls and charges and fall with tenure."""
    contract = rng.choice(["month-to-month", "one-year", "two-year"], ROWS, p=[0.55, 0.25, 0.2])
    payment = rng.choice(["card", "bank-transfer", "invoice"], ROWS)
    tenure = rng.integers(1, 72, ROWS)
    charges = rng.normal(65, 20, ROWS).clip(15, 140).round(2)
    calls = rng.poisson(1.5, ROWS)
    usage = rng.gamma(2.0, 8.0, ROWS).round(1)
    logit = (
        -1.2
        - 0.045 * tenure
        + 0.025 * (charges - 65)
        + 0.55 * calls
        + np.select([contract == "month-to-month", contract == "one-year"], [1.3, 0.2], -0.9)
        + np.where(payment == "invoice", 0.4, 0.0)
    )
    churned = (rng.random(ROWS) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "data_usage_gb": usage,
            "contract": contract,
            "payment_method": payment,
            "churned": churned,
        }
    )


def taxi_trips(rng: np.random.Generator) -> pd.DataFrame:
    """City taxi trips whose fare follows distance, duration, rush hour and zone surcharges."""
    zone = rng.choice(["downtown", "airport", "suburbs", "harbour"], ROWS, p=[0.4, 0.15, 0.3, 0.15])
    distance = rng.gamma(2.2, 2.5, ROWS).round(2)
    hour = rng.integers(0, 24, ROWS)
    rush = np.isin(hour, [7, 8, 9, 16, 17, 18])
    duration = (distance * rng.normal(2.4, 0.4, ROWS) + np.where(rush, 9, 3)).clip(2).round(1)
    passengers = rng.integers(1, 5, ROWS)
    fare = (
        3.5
        + 1.6 * distance
        + 0.35 * duration
        + np.select([zone == "airport", zone == "downtown"], [12.0, 2.5], 0.0)
        + rng.normal(0, 1.5, ROWS)
    ).round(2)
    return pd.DataFrame(
        {
            "trip_distance_km": distance,
            "trip_duration_min": duration,
            "pickup_hour": hour,
            "passenger_count": passengers,
            "pickup_zone": zone,
            "fare_amount": fare,
        }
    )


def main() -> None:
    """Write both samples."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    customer_churn(np.random.default_rng(7)).to_csv(DATA_DIR / "customer_churn.csv", index=False)
    taxi_trips(np.random.default_rng(11)).to_csv(DATA_DIR / "taxi_trips.csv", index=False)


if __name__ == "__main__":
    main()
