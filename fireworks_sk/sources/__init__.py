"""Streams of Messages read chunk by chunk: DataFrames, CSV, Parquet, SQL, Dask."""

from fireworks_sk.sources._base import DataFrameSource, Source
from fireworks_sk.sources._dask import DaskSource
from fireworks_sk.sources._files import CSVSource, ParquetSource
from fireworks_sk.sources._sql import SQLSource

__all__ = [
    "CSVSource",
    "DaskSource",
    "DataFrameSource",
    "ParquetSource",
    "SQLSource",
    "Source",
]
