"""Out-of-core fit: BatchNormalizer + OneHot over a folder of Parquet files.

Writes (once) a dataset of 5,000,000 rows x 10 columns (8 float, 2 string with
5 and 50 categories) in 20 files, then runs each case in its own process:

- ``pyarrow``: reading the files with ``ParquetFile.iter_batches`` alone;
- ``pyarrow + to_pandas``: the same, each batch converted to pandas;
- ``ParquetSource``: the Messages of ``ParquetSource(folder)``, read without
  fitting (the reading thread's work);
- ``fit``: ``fit_stream`` of the pipeline over ``ParquetSource(folder)``;
- ``fit x3``: the same over the folder listed three times (15,000,000 rows).

Peak RSS growth is the process's high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs`` just before the case) minus its RSS then, so imports
do not count. Each case runs twice, each time in a fresh process: once right
after the imports, and once after reading one batch with pyarrow (its thread
pools and allocator arenas are set up once per process, whatever the data
size); seconds are those of the second run, the best of ``--repeat`` such
runs. CPU seconds are those of all the process's threads (``fit_stream``
reads ahead in a thread of its own): on a loaded machine, where the threads
share one core, wall-clock time follows them. Linux only. Run it by hand:

    python benchmarks/stream.py [--rows N] [--files F] [--chunk-size C] [--dir D]
        [--repeat R]

It prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NUMERIC = [f"f{i}" for i in range(8)]
CATEGORICAL = ["small", "large"]


def write_dataset(
    folder: Path, rows: int, files: int, seed: int = 0, offset: float = 0.0
) -> None:
    """``rows`` rows in ``files`` files, written file by file to bound memory.

    ``offset`` is added to column ``f0`` (1e8 tests precision at a large mean).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    small = np.array([f"s{i}" for i in range(5)])
    large = np.array([f"l{i}" for i in range(50)])
    for k, n in enumerate(np.diff(np.linspace(0, rows, files + 1).astype(int))):
        columns = {name: rng.normal(i, 1 + i, n) for i, name in enumerate(NUMERIC)}
        columns["f0"] += offset
        columns["small"] = small[rng.integers(0, 5, n)]
        columns["large"] = large[rng.integers(0, 50, n)]
        pq.write_table(pa.table(columns), folder / f"part-{k:03d}.parquet")


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run_case(case: str, folder: Path, chunk_size: int, warm: bool) -> dict:
    """One case, in this process; returns seconds, rows and peak RSS growth."""
    import pyarrow.parquet as pq
    import torch
    from sklearn.pipeline import Pipeline

    from fireworks_sk import BatchNormalizer, OneHot, fit_stream
    from fireworks_sk.sources import ParquetSource

    torch.set_num_threads(1)
    if warm:
        # One batch through pyarrow first: its thread pools and allocator
        # arenas are set up once per process, whatever the data size.
        first = sorted(folder.glob("*.parquet"))[0]
        next(pq.ParquetFile(first).iter_batches(batch_size=chunk_size)).to_pandas()
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    before = _rss_kb("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    if case.startswith("pyarrow"):
        rows = read_with_pyarrow(folder, chunk_size, case.endswith("to_pandas"))
    elif case == "ParquetSource":
        rows = sum(len(message) for message in ParquetSource(folder, chunk_size))
    else:
        copies = 3 if case == "fit x3" else 1
        source = ParquetSource([folder] * copies, chunk_size)
        pipe = Pipeline(
            [("scale", BatchNormalizer(NUMERIC)), ("onehot", OneHot(CATEGORICAL))]
        )
        fit_stream(pipe, source, verbose=0)
        rows = pipe[0].n_samples_seen_
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    growth = (_rss_kb("VmHWM") - before) / 1024
    return {
        "case": case,
        "seconds": seconds,
        "cpu": cpu,
        "rows": rows,
        "growth_mb": growth,
    }


def read_with_pyarrow(folder: Path, chunk_size: int, convert: bool) -> int:
    """The baseline: every batch of every file, optionally as pandas."""
    import pyarrow.parquet as pq

    rows = 0
    for file in sorted(folder.glob("*.parquet")):
        for batch in pq.ParquetFile(file).iter_batches(batch_size=chunk_size):
            if convert:
                batch.to_pandas(split_blocks=True)
            rows += batch.num_rows
    return rows


def in_own_process(case: str, folder: Path, chunk_size: int, warm: bool) -> dict:
    command = [sys.executable, __file__, "--case", case, "--dir", str(folder)]
    command += ["--chunk-size", str(chunk_size)] + (["--warm"] if warm else [])
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def best_of(runs: list[dict]) -> dict:
    """The fastest run's figures, with the least CPU time of all runs."""
    best = min(runs, key=lambda run: run["seconds"])
    return {**best, "cpu": min(run["cpu"] for run in runs)}


def report(cold: list[dict], warm: list[dict], chunk_size: int) -> None:
    base = warm[0]["rows"] / warm[0]["seconds"]
    base_cpu = warm[0]["rows"] / warm[0]["cpu"]
    print(
        f"| case (chunk_size {chunk_size:,}) | rows | seconds | rows/s | time vs "
        "pyarrow | CPU seconds | CPU vs pyarrow | peak RSS growth, MB (after "
        "imports / after warm-up) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c, w in zip(cold, warm):
        speed, cpu_speed = w["rows"] / w["seconds"], w["rows"] / w["cpu"]
        print(
            f"| {w['case']} | {w['rows']:,} | {w['seconds']:.2f} | {speed:,.0f} | "
            f"{base / speed:.2f}× | {w['cpu']:.2f} | {base_cpu / cpu_speed:.2f}× | "
            f"{c['growth_mb']:.0f} / {w['growth_mb']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        result = run_case(args.case, args.dir, args.chunk_size, args.warm)
        print(json.dumps(result))
        return
    folder = args.dir or Path(tempfile.gettempdir()) / f"fireworks_stream_{args.rows}"
    if not any(folder.glob("*.parquet")):
        write_dataset(folder, args.rows, args.files)
    cases = ["pyarrow", "pyarrow + to_pandas", "ParquetSource", "fit", "fit x3"]
    cold = [in_own_process(c, folder, args.chunk_size, False) for c in cases]
    # Cases interleaved, so that a change of load reaches every case alike.
    runs: dict[str, list[dict]] = {c: [] for c in cases}
    for _ in range(max(args.repeat, 1)):
        for case in cases:
            runs[case].append(in_own_process(case, folder, args.chunk_size, True))
    report(cold, [best_of(runs[c]) for c in cases], args.chunk_size)


if __name__ == "__main__":
    main()
