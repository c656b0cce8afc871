"""Library of the Python benchmarks: the median time of a step."""
import statistics
import time


def timed(step, min_seconds):
    """Median seconds per call of `step()` over at least `min_seconds` and
    3 calls."""
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start >= min_seconds and len(times) >= 3:
            return statistics.median(times)
