"""Shared runner for the ``benchmarks/bench_<estimator>.py`` scripts.

A bench script declares its methods and cases and hands them to the runner::

    from _runner import Benchmark, main

    CASES = {
        "small": [dict(n=500, d=10)],
        "medium": [dict(n=5_000, d=20)],
        "large": [dict(n=50_000, d=50)],
    }

    def make_data(n, d):
        ...                          # one dataset per case, shared by all methods
        return X, truth

    def quality(result, data):       # -> a number or a dict of numbers
        return {"error": ...}

    bench = Benchmark("robust_pca", reference="ours", quality=quality)
    bench.add_method("ours", lambda data: RobustPCA().fit(data[0]))
    bench.add_method("sklearn PCA", lambda data: PCA().fit(data[0]))

    if __name__ == "__main__":
        main(bench, CASES, make_data)

Protocol, per case:

1. ``make_data(**case)`` is called once; every method gets the same object and
   must not modify it.
2. Methods whose ``skip(case)`` predicate returns a reason are reported as
   ``skipped``.
3. Each remaining method gets one warm-up call, which is not part of the
   reported times; its result is what the quality function scores. A warm-up
   slower than ``max_time`` ends that method for this case (status ``DNF``).
4. ``repeats`` timed rounds follow. The order of the methods rotates by one
   place each round (for two methods: A B, B A, A B, ...), so that no method
   always runs right after the same neighbour. A call slower than ``max_time``
   stops the remaining repeats of that method (``DNF``). Calls are never
   interrupted: the cap is checked when a call returns.
5. One more call per method measures peak memory (see
   :func:`measure_peak_memory`); it is not timed, so tracing costs nothing in
   the reported times.

A method may also give ``extra(result) -> {column: number}``: numbers that a
call measures about itself (for instance its time per phase). They are read,
outside the timer, from the result of every timed call, and the median of each
column over those calls joins the quality columns (the warm-up's numbers when
no timed call finished).

The table (stdout, Markdown) and the JSON file
(``<output>/<benchmark>_<size>.json``) hold the same rows: median time, IQR,
ratio of the median to the reference method's median, quality metric(s) and
peak memory, plus metadata (threads, versions, date, CPU count).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import gc
import importlib
import json
import math
import os
import platform
import re
import sys
import threading
import time
import traceback
import tracemalloc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import psutil
from threadpoolctl import threadpool_info, threadpool_limits

__all__ = [
    "Benchmark",
    "BenchmarkError",
    "MemoryUsage",
    "Method",
    "RESULTS_DIR",
    "SIZES",
    "collect_metadata",
    "format_table",
    "limit_threads",
    "main",
    "measure_peak_memory",
    "parse_args",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SIZES = ("small", "medium", "large")

# Environment variables read by BLAS / OpenMP runtimes that are loaded *after*
# ``--threads`` is applied (threadpoolctl only reaches libraries already loaded).
_THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class BenchmarkError(RuntimeError):
    """Raised by :meth:`Benchmark.run` after the results are written when a
    method raised an exception, so that a broken bench script exits non-zero."""


# --------------------------------------------------------------------------
# Peak memory
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryUsage:
    """Peak memory of one call, in bytes.

    ``peak`` is ``max(tracemalloc, rss)``: ``tracemalloc`` is the peak of the
    allocations Python and NumPy report to :mod:`tracemalloc`; ``rss`` is the
    peak resident set size of the process during the call minus the resident
    size just before it, which also counts memory that never passes through
    Python's allocators (``malloc`` in Cython or C code, BLAS work buffers).
    """

    peak: int
    tracemalloc: int
    rss: int


class _RSSSampler(threading.Thread):
    """Background thread recording the largest RSS seen every ``interval`` s."""

    def __init__(self, process: psutil.Process, interval: float):
        super().__init__(name="rss-sampler", daemon=True)
        self._process = process
        self._interval = interval
        self._done = threading.Event()
        self.peak = process.memory_info().rss

    def run(self) -> None:
        while not self._done.is_set():
            rss = self._process.memory_info().rss
            if rss > self.peak:
                self.peak = rss
            self._done.wait(self._interval)

    def finish(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def _malloc_trim() -> None:
    """Give free heap pages back to the OS (glibc only) to lower the baseline."""
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _reset_rss_high_water_mark() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _rss_high_water_mark() -> int | None:
    """Peak RSS of the process since the last reset (``VmHWM``), in bytes."""
    try:
        with open("/proc/self/status") as f:
            text = f.read()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def measure_peak_memory(
    fn: Callable[..., Any], *args: Any, interval: float = 0.002, **kwargs: Any
) -> tuple[Any, MemoryUsage]:
    """Call ``fn(*args, **kwargs)`` and return ``(result, MemoryUsage)``.

    Method: after ``gc.collect()`` and ``malloc_trim(0)`` the process RSS is
    read as the baseline. During the call

    * :mod:`tracemalloc` records the peak of traced allocations (Python
      objects and NumPy array buffers, which NumPy reports to tracemalloc);
    * a background thread samples the process RSS with :mod:`psutil` every
      ``interval`` seconds (2 ms by default); on Linux the kernel's exact peak
      (``VmHWM``, reset through ``/proc/self/clear_refs``) is read as well,
      which catches short peaks the sampler misses while a C call holds the
      GIL.

    The RSS part is ``peak RSS - baseline``. The larger of the two parts is the
    reported peak: tracemalloc misses ``malloc`` calls made by C, Cython or
    BLAS code; RSS misses memory that the allocator reuses from pages it kept
    resident after earlier calls. Both parts are returned too.
    """
    gc.collect()
    _malloc_trim()
    process = psutil.Process()
    baseline = process.memory_info().rss
    exact_peak = _reset_rss_high_water_mark()

    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.reset_peak()
        traced_start = tracemalloc.get_traced_memory()[0]
    else:
        tracemalloc.start()
        traced_start = 0
    sampler = _RSSSampler(process, interval)
    sampler.start()
    try:
        result = fn(*args, **kwargs)
    finally:
        rss_peak = sampler.finish()
        traced_peak = max(0, tracemalloc.get_traced_memory()[1] - traced_start)
        if not was_tracing:
            tracemalloc.stop()

    rss_peak = max(rss_peak, process.memory_info().rss)
    if exact_peak:
        hwm = _rss_high_water_mark()
        if hwm is not None:
            rss_peak = max(rss_peak, hwm)
    rss_delta = max(0, rss_peak - baseline)
    usage = MemoryUsage(
        peak=max(traced_peak, rss_delta), tracemalloc=traced_peak, rss=rss_delta
    )
    return result, usage


# --------------------------------------------------------------------------
# Metadata and threads
# --------------------------------------------------------------------------


def _version(module_name: str) -> str | None:
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None
    return str(getattr(module, "__version__", "unknown"))


def _openmp_effective_n_threads() -> int | None:
    try:
        from sklearn_spectral.utils._openmp_helpers import (
            _openmp_effective_n_threads as effective,
        )
    except Exception:  # package not built, or built without the helper
        return None
    try:
        return int(effective())
    except Exception:
        return None


def collect_metadata(**extra: Any) -> dict[str, Any]:
    """Machine, library and thread information stored next to the results."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_affinity": affinity,
        "memory_total": psutil.virtual_memory().total,
        "versions": {
            name: _version(name)
            for name in (
                "numpy",
                "scipy",
                "sklearn",
                "sklearn_spectral",
                "threadpoolctl",
                "psutil",
            )
        },
        "threadpool_info": threadpool_info(),
        "openmp_effective_n_threads": _openmp_effective_n_threads(),
        "memory_method": (
            "max(tracemalloc peak, peak RSS - RSS before the call); RSS sampled "
            "every 2 ms by a psutil thread and read from VmHWM where available"
        ),
    }
    meta.update(extra)
    return meta


@contextlib.contextmanager
def limit_threads(n_threads: int | None):
    """Limit BLAS and OpenMP thread pools to ``n_threads`` (no-op for None).

    Libraries already loaded are limited with
    :func:`threadpoolctl.threadpool_limits` (the package is imported first so
    that its OpenMP runtime is among them); the usual environment variables
    are set for runtimes loaded later. Everything is restored on exit.
    """
    if n_threads is None:
        yield
        return
    if n_threads < 1:
        raise ValueError(f"--threads must be >= 1, got {n_threads}")
    for name in ("scipy.linalg", "sklearn", "sklearn_spectral"):
        try:
            importlib.import_module(name)
        except Exception:
            pass
    saved = {name: os.environ.get(name) for name in _THREAD_ENV_VARS}
    os.environ.update({name: str(n_threads) for name in _THREAD_ENV_VARS})
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------


@dataclass
class Method:
    """One competitor: ``fn(data) -> result``.

    ``quality(result, data)`` returns a number or a dict ``{metric: number}``
    (``None`` uses the benchmark's default). ``skip(case)`` returns a reason
    (a string, or True) to skip the method for that case, or None/False to
    run it. ``extra(result)`` returns a dict ``{column: number}`` measured by
    the call itself; the median over the timed calls joins the quality columns.
    """

    name: str
    fn: Callable[[Any], Any]
    quality: Callable[[Any, Any], Any] | None = None
    skip: Callable[[dict], Any] | None = None
    extra: Callable[[Any], Any] | None = None


@dataclass
class _Record:
    method: str
    case: dict
    status: str = "ok"
    reason: str | None = None
    warmup_time: float | None = None
    times: list = field(default_factory=list)
    quality: dict = field(default_factory=dict)
    memory: MemoryUsage | None = None
    warmup_extra: dict | None = None
    extras: list = field(default_factory=list)


def _median_extras(record: _Record) -> dict[str, float | None]:
    """Median of each ``extra`` column over the timed calls (else the warm-up)."""
    calls = record.extras or ([record.warmup_extra] if record.warmup_extra else [])
    out: dict[str, float | None] = {}
    for key in dict.fromkeys(k for call in calls for k in call):
        values = [call[key] for call in calls if call.get(key) is not None]
        out[key] = float(np.median(values)) if values else None
    return out


def _as_quality_dict(value: Any) -> dict[str, float | None]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        items = value.items()
    else:
        items = [("quality", value)]
    out = {}
    for key, val in items:
        val = float(val) if val is not None else None
        out[str(key)] = val if val is not None and math.isfinite(val) else None
    return out


class Benchmark:
    """Time several methods side by side on the same data.

    Parameters
    ----------
    name : str
        Benchmark name; results go to ``<output>/<name>_<size>.json``.
    reference : str, default="ours"
        Method whose median time is the denominator of the ``ratio`` column.
    quality : callable, default=None
        Default ``quality(result, data)`` for methods that give none.
    repeats : int, default=3
        Timed calls per method and case (after the warm-up).
    max_time : float, default=60.0
        Seconds; a call slower than this ends that method for the case (DNF).
    timer : callable, default=time.perf_counter
        Clock in seconds; tests inject a fake one.
    measure_memory : bool, default=True
        Make one extra, untimed call per method to measure peak memory.
    verbose : bool, default=True
        Print progress to stderr.
    """

    def __init__(
        self,
        name: str,
        reference: str = "ours",
        *,
        quality: Callable[[Any, Any], Any] | None = None,
        repeats: int = 3,
        max_time: float = 60.0,
        timer: Callable[[], float] = time.perf_counter,
        measure_memory: bool = True,
        verbose: bool = True,
    ):
        self.name = name
        self.reference = reference
        self.quality = quality
        self.repeats = repeats
        self.max_time = max_time
        self.timer = timer
        self.measure_memory = measure_memory
        self.verbose = verbose
        self.methods: dict[str, Method] = {}

    def add_method(
        self,
        name: str,
        fn: Callable[[Any], Any],
        *,
        quality: Callable[[Any, Any], Any] | None = None,
        skip: Callable[[dict], Any] | None = None,
        extra: Callable[[Any], Any] | None = None,
    ) -> Method:
        """Register ``fn(data) -> result`` under ``name``; returns the Method."""
        if name in self.methods:
            raise ValueError(f"Benchmark {self.name!r}: method {name!r} added twice")
        method = Method(name, fn, quality=quality, skip=skip, extra=extra)
        self.methods[name] = method
        return method

    # -- running ----------------------------------------------------------

    def _log(self, message: str) -> None:
        if self.verbose:
            print(f"[{self.name}] {message}", file=sys.stderr, flush=True)

    def _timed_call(self, fn: Callable[[Any], Any], data: Any) -> tuple[Any, float]:
        gc.collect()
        start = self.timer()
        result = fn(data)
        return result, self.timer() - start

    def _fail(self, record: _Record, exc: BaseException) -> None:
        record.status = "error"
        record.reason = f"{type(exc).__name__}: {exc}"
        self._log(f"{record.method} {_case_str(record.case)} raised:")
        traceback.print_exc(file=sys.stderr)

    def _run_case(
        self, case: dict, make_data: Callable[..., Any], repeats: int, max_time: float
    ) -> list[_Record]:
        data = make_data(**case)
        records = {name: _Record(name, dict(case)) for name in self.methods}
        active: list[Method] = []

        for method in self.methods.values():
            record = records[method.name]
            reason = method.skip(case) if method.skip is not None else None
            if reason:
                record.status = "skipped"
                record.reason = reason if isinstance(reason, str) else "not run here"
                continue
            try:
                result, elapsed = self._timed_call(method.fn, data)
                quality = method.quality or self.quality
                if quality is not None:
                    record.quality = _as_quality_dict(quality(result, data))
                if method.extra is not None:
                    record.warmup_extra = _as_quality_dict(method.extra(result))
            except Exception as exc:
                self._fail(record, exc)
                continue
            del result
            record.warmup_time = elapsed
            self._log(f"{method.name} {_case_str(case)} warm-up {_fmt_time(elapsed)}")
            if elapsed > max_time:
                record.status = "DNF"
                record.times.append(elapsed)
                record.reason = (
                    f"warm-up took {_fmt_time(elapsed)} > cap {_fmt_time(max_time)}"
                )
                continue
            active.append(method)

        for round_ in range(repeats):
            if not active:
                break
            shift = round_ % len(active)
            dropped = []
            for method in active[shift:] + active[:shift]:
                record = records[method.name]
                try:
                    result, elapsed = self._timed_call(method.fn, data)
                    if method.extra is not None:
                        record.extras.append(_as_quality_dict(method.extra(result)))
                except Exception as exc:
                    self._fail(record, exc)
                    dropped.append(method)
                    continue
                del result
                record.times.append(elapsed)
                if elapsed > max_time:
                    record.status = "DNF"
                    record.reason = (
                        f"call took {_fmt_time(elapsed)} > cap {_fmt_time(max_time)}"
                    )
                    dropped.append(method)
            active = [m for m in active if m not in dropped]

        if self.measure_memory:
            for method in active:
                record = records[method.name]
                try:
                    result, record.memory = measure_peak_memory(method.fn, data)
                except Exception as exc:
                    self._fail(record, exc)
                    continue
                del result

        for record in records.values():
            if record.times:
                self._log(
                    f"{record.method} {_case_str(case)}: median "
                    f"{_fmt_time(float(np.median(record.times)))} ({record.status})"
                )
        return list(records.values())

    def _rows(self, records: list[_Record]) -> list[dict[str, Any]]:
        medians = {}
        for rec in records:
            if rec.times:
                medians[(rec.method, _case_key(rec.case))] = float(np.median(rec.times))
        rows = []
        for rec in records:
            median = medians.get((rec.method, _case_key(rec.case)))
            ref = medians.get((self.reference, _case_key(rec.case)))
            if rec.times:
                q25, q75 = np.percentile(rec.times, [25, 75])
                iqr = float(q75 - q25)
            else:
                iqr = None
            ratio = median / ref if median is not None and ref else None
            mem = rec.memory
            quality = dict(rec.quality)
            quality.update(_median_extras(rec))
            rows.append(
                {
                    "benchmark": self.name,
                    "method": rec.method,
                    "case": rec.case,
                    "status": rec.status,
                    "reason": rec.reason,
                    "median_time": median,
                    "iqr_time": iqr,
                    "ratio": ratio,
                    "times": list(rec.times),
                    "warmup_time": rec.warmup_time,
                    "quality": quality,
                    "peak_memory": mem.peak if mem else None,
                    "peak_memory_tracemalloc": mem.tracemalloc if mem else None,
                    "peak_memory_rss": mem.rss if mem else None,
                }
            )
        return rows

    def run(
        self,
        cases: list[dict] | Mapping[str, list[dict]],
        make_data: Callable[..., Any],
        *,
        size: str = "small",
        repeats: int | None = None,
        max_time: float | None = None,
        output_dir: str | os.PathLike | None = RESULTS_DIR,
        stream=None,
        metadata: dict | None = None,
    ) -> list[dict[str, Any]]:
        """Run every method on every case; print the table, write the JSON.

        ``cases`` is a list of dicts (keyword arguments of ``make_data``) or a
        mapping ``{size: list}`` from which ``cases[size]`` is taken. ``size``
        also names the output file. ``output_dir=None`` writes no file. Returns
        the rows; raises :class:`BenchmarkError` after writing if a method
        raised.
        """
        if self.reference not in self.methods:
            raise ValueError(
                f"Benchmark {self.name!r}: reference method {self.reference!r} "
                f"was not added (methods: {list(self.methods)})"
            )
        if isinstance(cases, Mapping):
            if size not in cases:
                raise ValueError(
                    f"Benchmark {self.name!r}: no cases for size {size!r} "
                    f"(sizes: {list(cases)})"
                )
            cases = cases[size]
        repeats = self.repeats if repeats is None else repeats
        max_time = self.max_time if max_time is None else max_time
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {repeats}")

        records = []
        for case in cases:
            records.extend(self._run_case(dict(case), make_data, repeats, max_time))
        rows = self._rows(records)

        table = format_table(rows, reference=self.reference)
        print(table, file=stream if stream is not None else sys.stdout, flush=True)

        if output_dir is not None:
            meta = collect_metadata(
                repeats=repeats, max_time=max_time, **(metadata or {})
            )
            out = Path(output_dir)
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{self.name}_{size}.json"
            payload = {
                "benchmark": self.name,
                "size": size,
                "reference": self.reference,
                "metadata": meta,
                "rows": rows,
            }
            with open(path, "w") as f:
                json.dump(payload, f, indent=2, default=_json_default)
                f.write("\n")
            self._log(f"results written to {path}")

        errors = [row for row in rows if row["status"] == "error"]
        if errors:
            detail = "; ".join(
                f"{row['method']} {_case_str(row['case'])}: {row['reason']}"
                for row in errors
            )
            raise BenchmarkError(f"Benchmark {self.name!r}: {detail}")
        return rows


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def _case_key(case: dict) -> str:
    return json.dumps(case, sort_keys=True, default=str)


def _case_str(case: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in case.items())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n / 2**20:.1f} MiB"


def _fmt_number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_table(rows: list[dict[str, Any]], reference: str = "ours") -> str:
    """Markdown table: method, case parameters, median time, IQR, ratio to the
    reference, quality metrics, peak memory and notes (status / reason)."""
    case_keys: list[str] = []
    metric_keys: list[str] = []
    for row in rows:
        for key in row["case"]:
            if key not in case_keys:
                case_keys.append(key)
        for key in row["quality"]:
            if key not in metric_keys:
                metric_keys.append(key)
    header = (
        ["method", *case_keys, "median time", "IQR", f"ratio to {reference}"]
        + metric_keys
        + ["peak memory", "notes"]
    )
    lines = [
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in rows:
        if row["status"] == "ok":
            notes = ""
        elif row["reason"]:
            notes = f"{row['status']}: {row['reason']}"
        else:
            notes = row["status"]
        ratio = row["ratio"]
        cells = (
            [row["method"]]
            + [row["case"].get(key, "") for key in case_keys]
            + [
                _fmt_time(row["median_time"]),
                _fmt_time(row["iqr_time"]),
                "" if ratio is None else f"{ratio:.2f}",
            ]
            + [_fmt_number(row["quality"].get(key)) for key in metric_keys]
            + [_fmt_bytes(row["peak_memory"]), notes]
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(
    argv: list[str] | None = None, description: str | None = None
) -> argparse.Namespace:
    """The options every bench script takes.

    ``--size small|medium|large`` (default small), ``--repeats N`` (default:
    the benchmark's, 3), ``--max-time SECONDS`` (cap per call), ``--output
    DIR`` (default ``benchmarks/results``), ``--threads N`` (limit BLAS and
    OpenMP threads for the whole run).
    """

    def positive_int(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
        return value

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--repeats", type=positive_int, default=None)
    parser.add_argument("--max-time", type=float, default=None, dest="max_time")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    parser.add_argument("--threads", type=positive_int, default=None)
    return parser.parse_args(argv)


def main(
    bench: Benchmark,
    cases: list[dict] | Mapping[str, list[dict]],
    make_data: Callable[..., Any],
    argv: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Parse the command line and run ``bench`` under the thread limit."""
    args = parse_args(argv, description=f"Benchmark {bench.name!r}")
    with limit_threads(args.threads):
        return bench.run(
            cases,
            make_data,
            size=args.size,
            repeats=args.repeats,
            max_time=args.max_time,
            output_dir=args.output,
            metadata={"threads_requested": args.threads},
        )
