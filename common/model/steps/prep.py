"""Prep step: validate and clean the raw data, then split it into train and test sets."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from .data import TEST_FILE, TRAIN_FILE, read_table
from .schema import STRATIFY, TARGET, validate_training
from .validation import run_step


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop rows without a target, check the rest against the data contract, keep its columns, drop duplicates."""
    labelled = frame.dropna(subset=[TARGET]) if TARGET in frame.columns else frame
    return validate_training(labelled).drop_duplicates().reset_index(drop=True)


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reproducible train/test split, stratified on the target for classifiers."""
    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame[TARGET] if STRATIFY else None
    )
    return train, test


def main(argv: list[str] | None = None) -> None:
    """Read --raw_data, write train.csv and test.csv into --prep_data."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw_data", type=Path, required=True, help="CSV file or folder of CSV files")
    parser.add_argument("--prep_data", type=Path, required=True, help="output folder for the splits")
    parser.add_argument("--test_size", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    train, test = split(clean(read_table(args.raw_data)), args.test_size, args.seed)
    args.prep_data.mkdir(parents=True, exist_ok=True)
    train.to_csv(args.prep_data / TRAIN_FILE, index=False)
    test.to_csv(args.prep_data / TEST_FILE, index=False)
    print(f"prep: {len(train)} train rows, {len(test)} test rows -> {args.prep_data}")


if __name__ == "__main__":
    run_step(main, "prep")
