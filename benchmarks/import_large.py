"""Import speed and peak memory on a large synthetic behaviour log, read streamed with progress."""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    from benchmarks import common
except ImportError:  # run as python benchmarks/import_large.py
    import common

MB = 1e6
GB = 1e9
_CHUNK_ROWS = 1_000_000  # rows generated at a time, so generating a large log stays in bounded memory
_EVENTS = ("view", "cart", "purchase")
_EVENT_SHARES = (0.86, 0.10, 0.04)
_WORDS = ("red", "blue", "green", "black", "white", "small", "large", "cotton", "leather", "wool", "summer",
          "winter", "sale", "new", "classic", "slim", "running", "shoes", "shirt", "dress", "jacket", "bag",
          "lamp", "chair", "desk", "phone", "case", "cable", "kids", "women", "men", "gift", "set", "pack")
_DUPLICATE_SHARE = 0.001  # a logger that sometimes sends an event twice, so de-duplication has work


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog="The log (user_id, item_id, timestamp, event_type, price, query) is generated once and cached "
               "in --dir. Prints progress while importing, then rows, users, items, time, rows/s, MB/s, peak RSS "
               "(as MB and as a share of the file size), RSS over time and the exact command. A benchmark: it "
               "asserts nothing.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--gb", type=float, default=2.0, help="target size of the CSV text in GB (1e9 bytes)")
    size.add_argument("--rows", type=int, help="number of rows instead of a size")
    parser.add_argument("--gzip", action="store_true", help="import a gzip-compressed copy")
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "recstudio-bench"),
                        help="folder holding the generated logs (reused across runs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    path, text_size = _cached_log(Path(args.dir), args.gb if args.rows is None else None, args.rows, args.seed,
                                  args.gzip)
    file_size = path.stat().st_size

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from recstudio.data import import_interactions

    memory = _RssSampler()
    before = memory.current()
    progress = _Progress(memory)
    memory.start()
    start = time.perf_counter()
    dataset = import_interactions(path, progress=progress)
    seconds = time.perf_counter() - start
    memory.stop()
    peak_max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    report = dataset.report
    events_bytes = int(dataset.interactions.memory_usage(deep=True).sum())
    figures = {
        "file": str(path), "file_MB": round(file_size / MB, 1), "text_MB": round(text_size / MB, 1),
        "rows_read": report.rows_read, "events": report.events, "users": report.users, "items": report.items,
        "dropped": report.dropped, "timestamp_format": report.timestamp_format,
        "seconds": round(seconds, 2), "rows_per_s": round(report.rows_read / seconds),
        "MB_per_s": round(text_size / MB / seconds, 1),
        "rss_before_MB": round(before / MB), "peak_rss_sampled_MB": round(memory.peak / MB),
        "peak_ru_maxrss_MB": round(peak_max_rss / MB), "interactions_MB": round(events_bytes / MB),
        "peak_rss_over_file": round(peak_max_rss / file_size, 3),
        "peak_rss_over_text": round(peak_max_rss / text_size, 3),
    }
    print()
    print(common.command_line())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {_total_ram() / GB:.1f} GB RAM, "
          f"python {platform.python_version()}, pandas {pd.__version__}, pyarrow {pa.__version__}, "
          f"numpy {np.__version__}")
    print(f"file: {path} ({file_size / MB:,.1f} MB{f', {text_size / MB:,.1f} MB of text' if args.gzip else ''})")
    print(f"rows read {report.rows_read:,}; events {report.events:,}; users {report.users:,}; "
          f"items {report.items:,}; dropped {report.dropped}")
    print(f"time {seconds:.1f} s; {report.rows_read / seconds:,.0f} rows/s; "
          f"{text_size / MB / seconds:.1f} MB/s of text")
    print(f"RSS before import {before / MB:,.0f} MB; peak RSS {peak_max_rss / MB:,.0f} MB (ru_maxrss), "
          f"{memory.peak / MB:,.0f} MB (sampled VmRSS); the coded interactions take {events_bytes / MB:,.0f} MB")
    print(f"peak RSS / file size: {peak_max_rss / file_size:.2f}"
          + (f"; / text size: {peak_max_rss / text_size:.2f}" if args.gzip else ""))
    print("RSS over time (s: MB, phase):")
    for when, rss, phase in memory.timeline(start, points=24):
        print(f"  {when:7.1f}: {rss / MB:7,.0f}  {phase}")
    print("peak RSS by phase (MB):", ", ".join(f"{phase} {rss / MB:,.0f}" for phase, rss in memory.by_phase.items()))
    print(json.dumps(figures))


class _RssSampler:
    """Samples this process's resident memory from /proc in a thread, tagged with the import phase."""

    def __init__(self, every: float = 0.05):
        self.every = every
        self.samples: list[tuple[float, int, str]] = []
        self.peak = 0
        self.phase = "start"
        self.by_phase: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.record()
            self._stop.wait(self.every)
        self.record()

    def record(self) -> int:
        rss = self.current()
        self.samples.append((time.perf_counter(), rss, self.phase))
        self.peak = max(self.peak, rss)
        self.by_phase[self.phase] = max(self.by_phase.get(self.phase, 0), rss)
        return rss

    def timeline(self, start: float, points: int) -> list[tuple[float, int, str]]:
        """At most ``points`` rows: the highest sample of each equal slice of the run."""
        if not self.samples:
            return []
        end = self.samples[-1][0]
        width = max(end - start, 1e-9) / points
        slices: dict[int, tuple[float, int, str]] = {}
        for when, rss, phase in self.samples:
            key = min(int((when - start) / width), points - 1)
            if key not in slices or rss > slices[key][1]:
                slices[key] = (when - start, rss, phase)
        return [slices[k] for k in sorted(slices)]


class _Progress:
    """Prints the importer's progress at most every 2% or 2 s, and at once when the phase changes."""

    def __init__(self, memory: _RssSampler):
        self.memory = memory
        self.start = time.perf_counter()
        self.last_time = -1e9
        self.last_fraction = -1.0

    def __call__(self, fraction: float, message: str) -> None:
        phase = message.split()[0]  # "Reading", "Parsing", "Cleaning", "Imported"
        now = time.perf_counter()
        changed = phase != self.memory.phase
        self.memory.phase = phase
        if changed or fraction - self.last_fraction >= 0.02 or now - self.last_time >= 2.0 or fraction >= 1.0:
            rss = self.memory.record()
            print(f"[{now - self.start:7.1f} s] {fraction:6.1%}  RSS {rss / MB:7,.0f} MB  {message}", flush=True)
            self.last_time, self.last_fraction = now, fraction


def _cached_log(folder: Path, gb: float | None, rows: int | None, seed: int, compressed: bool) -> tuple[Path, int]:
    """The generated log for these settings and its size as text, made on first use (in a child
    process, so that the generator's memory does not count in this process's peak RSS)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"events-{gb:g}GB-seed{seed}" if rows is None else f"events-{rows}rows-seed{seed}"
    csv_path = folder / f"{stem}.csv"
    if not csv_path.exists():
        child = multiprocessing.get_context("spawn").Process(target=_generate, args=(csv_path, gb, rows, seed))
        began = time.perf_counter()
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"generating {csv_path} failed")
        print(f"generated {csv_path} ({csv_path.stat().st_size / MB:,.0f} MB) in {time.perf_counter() - began:.0f} s",
              flush=True)
    if not compressed:
        return csv_path, csv_path.stat().st_size
    gz_path = folder / f"{stem}.csv.gz"
    if not gz_path.exists():
        began = time.perf_counter()
        partial = gz_path.with_suffix(".gz.partial")
        with open(csv_path, "rb") as src, gzip.open(partial, "wb", compresslevel=6) as dst:
            for block in iter(lambda: src.read(16 << 20), b""):
                dst.write(block)
        partial.rename(gz_path)
        print(f"compressed {gz_path} ({gz_path.stat().st_size / MB:,.0f} MB) in {time.perf_counter() - began:.0f} s",
              flush=True)
    return gz_path, csv_path.stat().st_size


def _generate(path: Path, gb: float | None, rows: int | None, seed: int) -> None:
    """Write the log in chunks of vectorised columns; stop at ``rows`` rows or ``gb`` GB of text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    target_bytes = None if gb is None else int(gb * GB)
    expected_rows = rows if rows is not None else int(target_bytes / 85)  # about 85 bytes a row
    n_users = max(100, expected_rows // 20)
    n_items = min(200_000, max(50, expected_rows // 10))
    # ids are shuffled so the most active user is not u0000000; activity and popularity are Zipf-like
    user_ids = pa.array([f"u{u:07d}" for u in rng.permutation(n_users)])
    item_ids = pa.array([f"SKU-{i:06d}" for i in rng.permutation(n_items)])
    item_prices = pa.array([f"{p:.2f}" for p in np.round(rng.lognormal(3.0, 1.0, n_items), 2)])
    user_cdf = _zipf_cdf(n_users, 0.8)
    item_cdf = _zipf_cdf(n_items, 1.0)
    words = pa.array(_WORDS)
    events = pa.array(_EVENTS)
    event_cdf = np.cumsum(_EVENT_SHARES)
    start = np.datetime64("2021-01-01T00:00:00", "s").astype(np.int64)
    span = 365 * 86400
    seconds_per_row = span / expected_rows

    partial = path.with_suffix(".csv.partial")
    written = done = 0
    with open(partial, "wb") as out:
        out.write(b"user_id,item_id,timestamp,event_type,price,query\n")
        while (rows is None and written < target_bytes) or (rows is not None and done < rows):
            n = _CHUNK_ROWS if rows is None else min(_CHUNK_ROWS, rows - done)
            users = np.searchsorted(user_cdf, rng.random(n))
            items = np.searchsorted(item_cdf, rng.random(n))
            # time moves forward through the year, chunk by chunk, in random order within a chunk
            times = start + (done + rng.random(n) * n) * seconds_per_row
            repeat = np.flatnonzero(rng.random(n) < _DUPLICATE_SHARE)
            repeat = repeat[repeat > 0]
            rows_taken = np.arange(n)
            rows_taken[repeat] = repeat - 1
            users, items, times = users[rows_taken], items[rows_taken], times[rows_taken]
            query = pc.binary_join_element_wise(
                *(words.take(rng.integers(0, len(_WORDS), n)[rows_taken]) for _ in range(5)), " ")
            stamps = pc.strftime(pa.array(times.astype("datetime64[s]")), format="%Y-%m-%d %H:%M:%S")
            fields = pc.binary_join_element_wise(
                user_ids.take(users), item_ids.take(items), stamps,
                events.take(np.searchsorted(event_cdf, rng.random(n))[rows_taken]), item_prices.take(items),
                query, ",")
            text = _joined_bytes(pc.binary_join_element_wise(fields, "", "\n"))  # each line ends in a newline
            if target_bytes is not None and written + len(text) > target_bytes:
                text = text[: text.index(b"\n", target_bytes - written) + 1]  # stop at the size, on a whole line
            out.write(text)
            written += len(text)
            done += n
    partial.rename(path)


def _zipf_cdf(n: int, exponent: float):
    import numpy as np

    weights = 1.0 / np.arange(1, n + 1) ** exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _joined_bytes(strings) -> bytes:
    """The bytes of every string of an arrow string array, back to back."""
    import numpy as np

    strings = strings.combine_chunks() if hasattr(strings, "combine_chunks") else strings
    _, offsets, data = strings.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int32)[strings.offset : strings.offset + len(strings) + 1]
    return data.to_pybytes()[offsets[0] : offsets[-1]]


def _total_ram() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


if __name__ == "__main__":
    main()
