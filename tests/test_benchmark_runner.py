"""Tests of the shared benchmark runner ``benchmarks/_runner.py``.

Times come from an injected fake clock (each method advances it by a known
amount), so no assertion depends on the machine's speed.
"""

import ctypes
import importlib.util
import io
import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

RUNNER_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "_runner.py"


def _load_runner():
    spec = importlib.util.spec_from_file_location("_bench_runner", RUNNER_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


class FakeClock:
    """A clock the benchmarked functions advance by hand."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make_method(clock, calls, name, durations, result=None):
    """fn(data) that logs its name and advances the clock by the next duration.

    ``durations`` are consumed in order (warm-up first); the last one repeats.
    """
    durations = list(durations)

    def fn(data):
        i = sum(1 for c in calls if c == name)
        calls.append(name)
        clock.now += durations[min(i, len(durations) - 1)]
        return result if result is not None else data

    return fn


def quiet_benchmark(name="toy", **kwargs):
    kwargs.setdefault("verbose", False)
    kwargs.setdefault("measure_memory", False)
    return runner.Benchmark(name, **kwargs)


def run_quiet(bench, cases, make_data, **kwargs):
    kwargs.setdefault("output_dir", None)
    stream = io.StringIO()
    rows = bench.run(cases, make_data, stream=stream, **kwargs)
    return rows, stream.getvalue()


def by_method(rows):
    return {row["method"]: row for row in rows}


def test_median_iqr_and_ratio_from_fake_clock():
    clock, calls = FakeClock(), []
    bench = quiet_benchmark(timer=clock, repeats=3)
    # first duration is the warm-up, which is not part of the statistics
    bench.add_method("ours", make_method(clock, calls, "ours", [10, 1, 3, 2]))
    bench.add_method("other", make_method(clock, calls, "other", [10, 4, 8, 4]))
    rows, _ = run_quiet(bench, [dict(n=10)], lambda n: np.arange(n))
    rows = by_method(rows)

    assert rows["ours"]["times"] == [1, 3, 2]
    assert rows["ours"]["median_time"] == 2
    assert rows["ours"]["iqr_time"] == pytest.approx(2.5 - 1.5)
    assert rows["ours"]["ratio"] == 1
    assert rows["ours"]["warmup_time"] == 10
    assert rows["other"]["median_time"] == 4
    assert rows["other"]["ratio"] == pytest.approx(2.0)
    assert all(row["status"] == "ok" for row in rows.values())


def test_reference_name_is_configurable():
    clock, calls = FakeClock(), []
    bench = quiet_benchmark(timer=clock, reference="fast", repeats=3)
    bench.add_method("fast", make_method(clock, calls, "fast", [0.5]))
    bench.add_method("slow", make_method(clock, calls, "slow", [2.0]))
    rows, table = run_quiet(bench, [dict(n=1)], lambda n: n)
    assert by_method(rows)["slow"]["ratio"] == pytest.approx(4.0)
    assert "ratio to fast" in table.splitlines()[0]


def test_missing_reference_is_an_error():
    bench = quiet_benchmark()
    bench.add_method("theirs", lambda data: data)
    with pytest.raises(ValueError, match="reference method 'ours'"):
        run_quiet(bench, [dict(n=1)], lambda n: n)


def test_method_order_rotates_between_repeats():
    clock, calls = FakeClock(), []
    bench = quiet_benchmark(timer=clock, repeats=4)
    for name in ("ours", "b"):
        bench.add_method(name, make_method(clock, calls, name, [1]))
    run_quiet(bench, [dict(n=1)], lambda n: n)
    warmup, timed = calls[:2], calls[2:]
    assert warmup == ["ours", "b"]
    rounds = [timed[i : i + 2] for i in range(0, len(timed), 2)]
    assert rounds == [["ours", "b"], ["b", "ours"], ["ours", "b"], ["b", "ours"]]


def test_three_methods_rotate_through_every_position():
    clock, calls = FakeClock(), []
    bench = quiet_benchmark(timer=clock, repeats=3)
    for name in ("ours", "b", "c"):
        bench.add_method(name, make_method(clock, calls, name, [1]))
    run_quiet(bench, [dict(n=1)], lambda n: n)
    timed = calls[3:]
    rounds = [timed[i : i + 3] for i in range(0, len(timed), 3)]
    assert rounds == [["ours", "b", "c"], ["b", "c", "ours"], ["c", "ours", "b"]]
    for position in range(3):
        assert {r[position] for r in rounds} == {"ours", "b", "c"}


def test_quality_scalar_dict_and_default():
    clock = FakeClock()
    seen = []

    def default_quality(result, data):
        seen.append((result, data))
        return {"sum": float(np.sum(result)), "n": len(data)}

    bench = quiet_benchmark(timer=clock, quality=default_quality)
    bench.add_method("ours", lambda data: np.sort(data))
    bench.add_method(
        "python sorted",
        lambda data: sorted(data.tolist()),
        quality=lambda result, data: float(result[0]),
    )
    rows, table = run_quiet(bench, [dict(n=5)], lambda n: np.arange(n)[::-1].copy())
    rows = by_method(rows)
    assert rows["ours"]["quality"] == {"sum": 10.0, "n": 5.0}
    assert rows["python sorted"]["quality"] == {"quality": 0.0}
    header = table.splitlines()[0]
    for column in ("sum", "n", "quality"):
        assert f" {column} |" in header
    # the default quality is given (result, data) of the warm-up call
    np.testing.assert_array_equal(seen[0][0], np.arange(5))
    assert len(seen) == 1


def test_table_has_header_and_one_row_per_method_and_case():
    bench = quiet_benchmark(quality=lambda result, data: float(result[0]))
    bench.add_method("ours", np.sort)
    bench.add_method("sorted", lambda data: np.asarray(sorted(data)))
    cases = [dict(n=50, d=1), dict(n=200, d=2), dict(n=400, d=3)]
    rows, table = run_quiet(
        bench, cases, lambda n, d: np.random.default_rng(d).random(n)
    )
    lines = table.strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:6] == ["method", "n", "d", "median time", "IQR", "ratio to ours"]
    assert "peak memory" in header and "quality" in header
    assert set(lines[1].replace("|", "")) == {"-"}
    body = lines[2:]
    assert len(body) == len(rows) == 2 * len(cases)
    for line in body:
        assert line.startswith("| ") and line.endswith(" |")
        assert len(line.strip("|").split("|")) == len(header)


def test_json_written_with_rows_and_metadata(tmp_path):
    clock, calls = FakeClock(), []
    bench = quiet_benchmark("toy_sort", timer=clock)
    bench.add_method("ours", make_method(clock, calls, "ours", [1.0]))
    bench.add_method("sorted", make_method(clock, calls, "sorted", [3.0]))
    cases = {"small": [dict(n=3), dict(n=4)], "large": [dict(n=10**9)]}
    rows, _ = run_quiet(
        bench, cases, lambda n: np.zeros(n), size="small", output_dir=tmp_path
    )
    path = tmp_path / "toy_sort_small.json"
    assert path.exists()
    payload = json.loads(path.read_text())
    assert payload["benchmark"] == "toy_sort"
    assert payload["size"] == "small"
    assert payload["reference"] == "ours"
    assert len(payload["rows"]) == 4
    assert [r["case"]["n"] for r in payload["rows"]] == [3, 3, 4, 4]
    assert payload["rows"] == json.loads(json.dumps(rows))
    assert by_method(payload["rows"])["sorted"]["ratio"] == pytest.approx(3.0)
    meta = payload["metadata"]
    for key in (
        "date",
        "python",
        "cpu_count",
        "versions",
        "threadpool_info",
        "openmp_effective_n_threads",
        "repeats",
        "max_time",
        "memory_method",
    ):
        assert key in meta
    assert meta["cpu_count"] >= 1
    assert isinstance(meta["threadpool_info"], list)
    assert meta["versions"]["numpy"] == np.__version__


def test_unknown_size_is_an_error():
    bench = quiet_benchmark()
    bench.add_method("ours", lambda data: data)
    with pytest.raises(ValueError, match="no cases for size 'large'"):
        run_quiet(bench, {"small": [dict(n=1)]}, lambda n: n, size="large")


def test_dnf_when_warmup_exceeds_cap():
    clock, calls = FakeClock(), []
    bench = quiet_benchmark(timer=clock, max_time=5.0, repeats=3)
    bench.add_method("ours", make_method(clock, calls, "ours", [1.0]))
    bench.add_method("slow", make_method(clock, calls, "slow", [10.0]))
    rows, table = run_quiet(bench, [dict(n=1)], lambda n: n)
    rows = by_method(rows)
    assert calls.count("slow") == 1  # the warm-up only
    assert calls.count("ours") == 4
    assert rows["slow"]["status"] == "DNF"
    assert rows["slow"]["times"] == [10.0]
    assert "cap" in rows["slow"]["reason"]
    assert rows["ours"]["status"] == "ok"
    slow_line = next(line for line in table.splitlines() if line.startswith("| slow"))
    assert "DNF" in slow_line


def test_dnf_during_repeats_stops_remaining_repeats():
    clock, calls = FakeClock(), []
    bench = quiet_benchmark(timer=clock, max_time=5.0, repeats=5)
    bench.add_method("ours", make_method(clock, calls, "ours", [1.0]))
    # warm-up 1 s, first repeat 2 s, second repeat 6 s (over the cap)
    bench.add_method("grows", make_method(clock, calls, "grows", [1.0, 2.0, 6.0]))
    rows, _ = run_quiet(bench, [dict(n=1)], lambda n: n)
    rows = by_method(rows)
    assert calls.count("grows") == 3
    assert rows["grows"]["status"] == "DNF"
    assert rows["grows"]["times"] == [2.0, 6.0]
    assert rows["ours"]["times"] == [1.0] * 5


def test_skip_predicate_reports_reason_and_never_calls():
    clock, calls = FakeClock(), []
    bench = quiet_benchmark(timer=clock)
    bench.add_method("ours", make_method(clock, calls, "ours", [1.0]))
    bench.add_method(
        "dense",
        make_method(clock, calls, "dense", [1.0]),
        skip=lambda case: "needs n <= 100" if case["n"] > 100 else None,
    )
    never = make_method(clock, calls, "never", [1.0])
    bench.add_method("never", never, skip=lambda case: True)
    rows, table = run_quiet(bench, [dict(n=10), dict(n=1000)], lambda n: n)
    assert "never" not in calls
    assert calls.count("dense") == 4  # n=10 only: warm-up + 3 repeats
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert {(r["method"], r["case"]["n"]) for r in skipped} == {
        ("dense", 1000),
        ("never", 10),
        ("never", 1000),
    }
    dense = next(r for r in skipped if r["method"] == "dense")
    assert dense["reason"] == "needs n <= 100"
    assert dense["median_time"] is None and dense["ratio"] is None
    assert "skipped: needs n <= 100" in table


def test_error_is_recorded_written_and_raised(tmp_path):
    bench = quiet_benchmark("broken")
    bench.add_method("ours", lambda data: data)

    def boom(data):
        raise RuntimeError("kaput")

    bench.add_method("broken", boom)
    with pytest.raises(runner.BenchmarkError, match="kaput"):
        run_quiet(bench, [dict(n=1)], lambda n: n, output_dir=tmp_path)
    payload = json.loads((tmp_path / "broken_small.json").read_text())
    rows = by_method(payload["rows"])
    assert rows["broken"]["status"] == "error"
    assert rows["ours"]["status"] == "ok"


def test_peak_memory_of_a_50mb_numpy_allocation():
    def allocate(data):
        a = np.ones(50 * 2**20 // 8)
        return float(a[-1])

    bench = runner.Benchmark("mem", verbose=False, repeats=1)
    bench.add_method("ours", allocate)
    bench.add_method("nothing", lambda data: 0.0)
    rows, table = run_quiet(bench, [dict(n=1)], lambda n: n)
    rows = by_method(rows)
    assert rows["ours"]["peak_memory"] >= 40 * 2**20
    assert rows["ours"]["peak_memory_tracemalloc"] >= 40 * 2**20
    assert rows["nothing"]["peak_memory"] < 10 * 2**20
    assert "MiB" in table


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses libc malloc")
def test_peak_memory_counts_allocations_outside_python():
    """malloc from C code is invisible to tracemalloc but not to RSS."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    nbytes = 50 * 2**20

    def c_allocate():
        ptr = libc.malloc(nbytes)
        ctypes.memset(ptr, 1, nbytes)  # touch the pages so they become resident
        libc.free(ptr)

    _, usage = runner.measure_peak_memory(c_allocate)
    assert usage.tracemalloc < 10 * 2**20
    assert usage.rss >= 40 * 2**20
    assert usage.peak == max(usage.rss, usage.tracemalloc)


def test_measure_peak_memory_returns_the_result_and_reraises():
    result, usage = runner.measure_peak_memory(sorted, [3, 1, 2])
    assert result == [1, 2, 3]
    assert usage.peak >= 0

    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        runner.measure_peak_memory(boom)
    assert not any(t.name == "rss-sampler" for t in threading.enumerate())


def test_parse_args_defaults_and_options(tmp_path):
    args = runner.parse_args([])
    assert args.size == "small"
    assert args.repeats is None and args.threads is None and args.max_time is None
    assert args.output == runner.RESULTS_DIR
    argv = ["--size", "large", "--repeats", "5", "--threads", "1"]
    args = runner.parse_args(argv + ["--output", str(tmp_path)])
    assert (args.size, args.repeats, args.output, args.threads) == (
        "large",
        5,
        tmp_path,
        1,
    )
    with pytest.raises(SystemExit):
        runner.parse_args(["--size", "huge"])
    with pytest.raises(SystemExit):
        runner.parse_args(["--repeats", "0"])


def test_main_runs_under_thread_limit(tmp_path, capsys):
    bench = runner.Benchmark("cli_toy", verbose=False, measure_memory=False)
    bench.add_method("ours", np.sort)
    bench.add_method("sorted", lambda x: np.asarray(sorted(x)))
    cases = {"small": [dict(n=100)], "medium": [dict(n=10_000)]}
    rows = runner.main(
        bench,
        cases,
        lambda n: np.random.default_rng(0).random(n),
        argv=["--repeats", "1", "--output", str(tmp_path), "--threads", "1"],
    )
    assert len(rows) == 2 and all(len(r["times"]) == 1 for r in rows)
    out = capsys.readouterr().out
    assert out.startswith("| method | n |")
    payload = json.loads((tmp_path / "cli_toy_small.json").read_text())
    meta = payload["metadata"]
    assert meta["threads_requested"] == 1
    assert meta["repeats"] == 1
    for pool in meta["threadpool_info"]:
        assert pool["num_threads"] == 1


def test_extra_columns_are_medians_over_timed_calls():
    # extra(result) reports numbers a call measured about itself; the table
    # shows their median over the timed calls, not the warm-up's values.
    values = iter([100.0, 3.0, 1.0, 2.0])  # warm-up, then three timed calls
    bench = quiet_benchmark(repeats=3)
    bench.add_method(
        "ours",
        lambda data: {"phase": next(values)},
        quality=lambda result, data: 1.0,
        extra=lambda result: result,
    )
    rows, table = run_quiet(bench, [dict(n=1)], lambda n: n)
    row = by_method(rows)["ours"]
    assert row["quality"] == {"quality": 1.0, "phase": 2.0}
    assert " phase |" in table.splitlines()[0]
