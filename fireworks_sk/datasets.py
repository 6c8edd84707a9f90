"""Small real datasets bundled with fireworks_sk, so examples need no network."""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_penguins"]


def load_penguins() -> pd.DataFrame:
    """The Palmer Archipelago penguins: 344 penguins of three species.

    Columns: ``species``, ``island``, ``sex`` (strings; ``sex`` has missing
    values), ``bill_length_mm``, ``bill_depth_mm``, ``flipper_length_mm``,
    ``body_mass_g`` (floats, a few missing) and ``year`` (int).

    Data by Kristen Gorman and the Palmer Station LTER (Horst, Hill & Gorman,
    2020, palmerpenguins), released under CC0.

    Returns
    -------
    pandas.DataFrame of shape (344, 8)

    Examples
    --------
    >>> from fireworks_sk.datasets import load_penguins
    >>> load_penguins().shape
    (344, 8)
    """
    path = resources.files("fireworks_sk") / "data" / "penguins.csv"
    with path.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle)
