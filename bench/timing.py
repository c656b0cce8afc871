"""Library of the Python benchmarks: the median (and best) time of a step."""
import statistics
import time


def timed_best(step, min_seconds):
    """(median, minimum) seconds per call of `step()` over at least
    `min_seconds` and 3 calls: the median doubles whenever another process
    shares the timed core, the best call does not."""
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start >= min_seconds and len(times) >= 3:
            return statistics.median(times), min(times)


def timed(step, min_seconds):
    """Median seconds per call of `step()` over at least `min_seconds` and
    3 calls."""
    return timed_best(step, min_seconds)[0]
