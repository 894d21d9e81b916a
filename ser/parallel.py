"""Running independent tasks in worker processes: the one place `ser` parallelises (extraction, scoring,
folds), through the standard ``concurrent.futures`` interface.

Why one module: the verbs need the same things from a pool (results in input order with only a few in
flight, or results as they finish; a worker initialiser; a clear error instead of a hang when a worker
dies) and should not each carry a copy. ``ProcessPoolExecutor`` raises ``BrokenProcessPool`` on the
futures of a worker killed from outside (the OOM killer) where ``multiprocessing.Pool`` waits for ever.

Faults: a worker that dies mid-task (kill -9, the OOM killer) breaks the whole local pool, and the pool cannot tell
which task killed it; `ordered_map` then reruns the tasks that were in flight one at a time in a fresh one-worker
pool, so a task whose worker dies again alone is the culprit: it alone fails (through `on_lost`, loudly) and the
rest of the run goes on. Workers die with their parent (`die_with_parent`: Linux's PR_SET_PDEATHSIG, elsewhere a
thread watching the parent pid), so a kill -9 of `ser` leaves no orphans computing; `stop_workers_on_sigterm`
makes a plain SIGTERM of the parent terminate its workers and unwind (temp files removed, locks released).

Start methods: `fork` where safe (the parent has run no torch/OpenMP threads: extraction, scoring) because
workers start at once; `spawn` for fold training, since a forked child of a process whose OpenMP threads
already ran can deadlock. `--cluster local:N` starts its Dask workers the same way (`local_dask_config`).

Past one machine: `cluster` (the verbs' `--cluster`) runs the same tasks on a Dask cluster through its
``concurrent.futures`` executor: `local:N` starts a LocalCluster of N one-thread worker processes here,
`tcp://HOST:8786` joins a running scheduler, a `.json` path is a scheduler file (`dask scheduler
--scheduler-file F`; SLURM/PBS clusters from dask-jobqueue write one). Results come back to the client, which
alone writes the ark/scp (workers need no shared filesystem for features; only local processes and `local:N` workers
hand long utterances over as spill files, ``ser.frontend.spill``); fold training writes its fold dirs, so the
experiment dir must be on a filesystem every worker sees. Dask resubmits the tasks of a worker that dies.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import deque
from itertools import islice
from contextlib import contextmanager
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from ser.errors import SerError

T = TypeVar("T")
R = TypeVar("R")


def default_start_method() -> str:
    return "fork" if sys.platform.startswith("linux") else "spawn"


#: prctl(2) option: the signal a process gets when the thread that forked it exits
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, poll: float = 0.5) -> None:
    """Make this (worker) process die when `parent` does: a worker orphaned by a kill -9 of `ser` would otherwise
    go on computing for nobody. Linux: PR_SET_PDEATHSIG (SIGKILL); elsewhere, or if prctl fails, a daemon thread
    polling os.getppid()."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died between fork and prctl
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(parent, poll), daemon=True, name="ser-watch-parent").start()


def _watch_parent(parent: int, poll: float) -> None:
    while os.getppid() == parent:
        time.sleep(poll)
    os._exit(1)


def _worker_start(parent: int, initializer: Callable[..., None] | None, initargs: Sequence[Any]) -> None:
    """Every local worker's initialiser: default SIGTERM (a forked worker must not run the parent's handler, which
    would turn the pool's terminate() into an exception sent back as a result), die with the parent, then the
    caller's initialiser."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def process_pool(nj: int, initializer: Callable[..., None] | None = None, initargs: Sequence[Any] = (),
                 start_method: str | None = None) -> Executor:
    """A local pool of `nj` worker processes that die with this one."""
    context = mp.get_context(start_method or default_start_method())
    return ProcessPoolExecutor(max_workers=nj, mp_context=context, initializer=_worker_start,
                               initargs=(os.getpid(), initializer, tuple(initargs)))


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM (under `stop_workers_on_sigterm`), after the workers were stopped."""


def stop_workers() -> None:
    """Terminate every worker process this process started (pools, Dask's local workers)."""
    for child in mp.active_children():
        child.terminate()


@contextmanager
def stop_workers_on_sigterm() -> Iterator[None]:
    """While inside: SIGTERM terminates the workers and raises `Terminated` in the main thread, so `with` blocks
    unwind (temp files removed, locks released) instead of the process vanishing with its workers left running.
    Outside the main thread this does nothing (Python handles signals there only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stop_workers()
        raise Terminated(signum)

    _PARENT_HANDLERS.add(handler)
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _PARENT_HANDLERS.discard(handler)


#: SIGTERM handlers `stop_workers_on_sigterm` installed (in this process)
_PARENT_HANDLERS: set[Callable[..., None]] = set()


def _default_sigterm_in_child() -> None:
    """After any fork: a child holding the parent's SIGTERM handler gets the default back, so a forked Dask worker
    (``local_dask_config``) that is terminated dies instead of unwinding the parent's with-blocks in its own copy.
    The local pool's workers get the same in `_worker_start`."""
    if signal.getsignal(signal.SIGTERM) in _PARENT_HANDLERS:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _PARENT_HANDLERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_default_sigterm_in_child)


#: Dask settings for `local:N` workers, measured on EmoDB emobase78 (2 workers, 535 clips): Dask's default
#: MALLOC_TRIM_THRESHOLD_=65536 hands freed memory back to the OS at once, so every clip's buffers fault in again
#: (3.5x the page faults of the local pool, 4x its system CPU); the 10 ms stack profiler costs CPU no one reads.
#: The BLAS/OpenMP thread caps (1) stay, as in the local pool. Dask's periodic housekeeping wakes every process often
#: (event-loop tick 20 ms, memory monitor 100 ms, system monitor for a dashboard we do not start 500 ms): on 2 busy
#: cores that cost ~25% more CPU than the local pool (EmoDB emobase78: 34.6-38.3 CPU-s vs 27.8); at 1 s / 500 ms / 5 s,
#: 29.9-30.5 CPU-s (the rest: the scheduler and importing distributed in the client). Memory is still watched twice
#: a second.
LOCAL_DASK_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.admin.system-monitor.interval": "5s",
}
#: Dask's key for how a nanny starts its worker process (spawn by default)
DASK_START_METHOD = "distributed.worker.multiprocessing-method"


def local_dask_config(start_method: str | None = None) -> dict[str, Any]:
    """`LOCAL_DASK_CONFIG` plus how `local:N` starts its workers: as the local pool would (`start_method`, default
    `default_start_method`). Why: a spawned Dask worker starts a fresh interpreter and imports distributed, numpy and
    ser again (~1.5 s of CPU each, and the nanny's close waits ~1.5 s for it to exit); a forked one inherits them.
    Measured on 2 busy cores: LocalCluster(2) start 4.7 -> 0.7 s, close 1.6 -> 0.1 s. Callers whose parent ran
    OpenMP threads (fold training, tuning) ask for spawn, as they do for the local pool."""
    return {**LOCAL_DASK_CONFIG, DASK_START_METHOD: start_method or default_start_method()}


@contextmanager
def dask_executor(cluster: str, start_method: str | None = None) -> Iterator[Executor]:
    """A Dask client's executor for `cluster` (local:N, tcp://host:port or a scheduler file), closed afterwards;
    `start_method` is how `local:N` starts its worker processes (see `local_dask_config`)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SerError("--cluster needs Dask: pip install 'dask[distributed]'") from None
    import dask

    local = None
    if cluster.startswith("local:"):
        with dask.config.set(local_dask_config(start_method)):
            local = LocalCluster(n_workers=int(cluster[6:]), threads_per_worker=1, processes=True,
                                 dashboard_address=None)
        client = Client(local)
    elif cluster.endswith(".json"):
        client = Client(scheduler_file=cluster)
    elif cluster.startswith(("tcp://", "tls://")):
        client = Client(cluster)
    else:
        raise SerError(f"--cluster '{cluster}': give local:N, tcp://HOST:PORT or a scheduler file (.json)")
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
        if local is not None:
            local.close()


#: (initializer, repr(initargs)) already run in this (Dask worker) process
_INITIALISED: set[tuple[str, str]] = set()


def _initialised(initializer: Callable[..., None] | None, initargs: Sequence[Any], fn: Callable[[T], R], task: T) -> R:
    """A task on a Dask worker: the pool initializer runs first, once per worker process and arguments (Dask has no
    per-process initializer; a chunk repeating it would rebuild or re-cap what the previous chunk left ready)."""
    if initializer is not None:
        key = (f"{initializer.__module__}.{initializer.__qualname__}", repr(initargs))
        if key not in _INITIALISED:
            initializer(*initargs)
            _INITIALISED.add(key)
    return fn(task)


def chunk_size(tasks: int, workers: int, per_worker: int = 16, cap: int = 8) -> int:
    """Utterances per Dask task: about `per_worker` chunks per worker, so the last chunks leave no worker idle for
    long, and at most `cap`, past which a chunk's round trip (~ms) is already noise next to its compute."""
    return max(1, min(cap, -(-tasks // max(1, workers * per_worker))))


@contextmanager
def _executor(nj: int, cluster: str | None, initializer, initargs, start_method) -> Iterator[tuple[Executor, Callable]]:
    if cluster:
        with dask_executor(cluster, start_method) as pool:
            yield pool, lambda fn: functools.partial(_initialised, initializer, tuple(initargs), fn)
    else:
        with process_pool(nj, initializer, initargs, start_method) as pool:
            yield pool, lambda fn: fn


def ordered_map(fn: Callable[[T], R], tasks: Iterable[T], nj: int, initializer: Callable[..., None] | None = None,
                initargs: Sequence[Any] = (), start_method: str | None = None, in_flight: int = 0,
                cluster: str | None = None, chunk: int = 0,
                on_lost: Callable[[T, str], R] | None = None) -> Iterator[R]:
    """`fn(task)` for every task, yielded in task order; with `nj` > 1 (or a `cluster`) in worker processes with at
    most `in_flight` (default 2 x nj) submissions ahead, so memory stays flat however many tasks there are. On a
    cluster, tasks travel in chunks of `chunk` (Kaldi's split_data idea: a network round trip per utterance would
    cost more than the utterance; default `chunk_size` of the task count and the cluster's worker threads), with
    `in_flight` (default 4 per worker thread) chunks submitted ahead so no worker waits for the next one. With
    `nj` <= 1 and no cluster everything runs here, after `initializer` once.

    A local worker that dies mid-task: the tasks in flight are rerun one at a time; one whose worker dies again alone
    yields `on_lost(task, reason)` (without `on_lost`, a SerError ends the run) and the rest goes on."""
    tasks = iter(tasks)
    if nj <= 1 and not cluster:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, tasks)
        return
    if not cluster:
        yield from _local_ordered(fn, tasks, nj, functools.partial(process_pool, initializer=initializer,
                                  initargs=initargs, start_method=start_method), in_flight or 2 * nj, on_lost)
        return
    with _executor(nj, cluster, initializer, initargs, start_method) as (pool, wrap):
        call = wrap(functools.partial(_map_chunk, fn))
        pending: deque[tuple[list[T], Future]] = deque()
        threads = _worker_threads(pool)
        limit = in_flight or max(16, 4 * threads)
        if not chunk:
            tasks = list(tasks)
            chunk = chunk_size(len(tasks), threads)
            tasks = iter(tasks)
        while True:
            part = list(islice(tasks, chunk))
            if not part:
                break
            pending.append((part, pool.submit(call, part)))
            if len(pending) >= limit:
                part, future = pending.popleft()
                yield from future.result()
        while pending:
            part, future = pending.popleft()
            yield from future.result()


def _worker_threads(pool: Executor) -> int:
    """Threads of the Dask cluster behind `pool` (at least 1; a cluster still starting may report none yet)."""
    client = getattr(pool, "_client", None)
    return max(1, sum(client.nthreads().values())) if client is not None else 1


def _local_ordered(fn: Callable[[T], R], tasks: Iterator[T], nj: int, start: Callable[[int], Executor], limit: int,
                   on_lost: Callable[[T, str], R] | None) -> Iterator[R]:
    """`ordered_map` on local pools, restarted after a worker death (see the module's "Faults")."""
    finished_any = False
    while True:
        pending: deque[tuple[T, Any]] = deque()
        with start(nj) as pool:
            try:
                for task in tasks:
                    pending.append((task, None))  # a suspect even if submit finds the pool already broken
                    pending[-1] = (task, pool.submit(fn, task))
                    while len(pending) >= limit:
                        result = pending[0][1].result()
                        pending.popleft()
                        finished_any = True
                        yield result
                while pending:
                    result = pending[0][1].result()
                    pending.popleft()
                    finished_any = True
                    yield result
                return
            except BrokenProcessPool:
                suspects = [task for task, _ in pending]
        print(f"ser: a worker process died (killed, or out of memory?) while working on one of "
              f"{', '.join(_describe(t) for t in suspects)}; running these again one at a time", file=sys.stderr)
        for result in _isolated(fn, suspects, start, on_lost, finished_any):
            finished_any = True
            yield result


def _isolated(fn: Callable[[T], R], suspects: list[T], start: Callable[[int], Executor],
              on_lost: Callable[[T, str], R] | None, finished_any: bool) -> Iterator[R]:
    """Each suspect alone in a one-worker pool: the one whose worker dies again is lost; the others finish."""
    pool: Executor | None = None
    try:
        for task in suspects:
            pool = pool or start(1)
            try:
                result = pool.submit(fn, task).result()
            except BrokenProcessPool:
                pool.shutdown(wait=True)
                pool = None
                if not finished_any:  # no task ever finished: the workers themselves fail (initialiser, imports)
                    raise SerError(f"worker processes die before finishing any task (last: {_describe(task)}); "
                                   "run with --nj 1 to see why") from None
                reason = "its worker process died twice while working on it (killed, or out of memory?)"
                if on_lost is None:
                    raise SerError(f"{_describe(task)}: {reason}; results already written are kept") from None
                print(f"ser: {_describe(task)}: {reason}; the run goes on without it", file=sys.stderr)
                yield on_lost(task, reason)
                continue
            finished_any = True
            yield result
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _map_chunk(fn: Callable[[T], R], part: Sequence[T]) -> list[R]:
    return [fn(task) for task in part]


def _result(task: Any, future: Future) -> Any:
    """The future's result; a worker that died (kill -9, the OOM killer) is a clear error, not a traceback."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise SerError(f"a worker process died (killed, or out of memory?) while working on {_describe(task)}; "
                       "results already written are kept: run the command again to go on") from None


def _describe(part: Any) -> str:
    task = part[0] if isinstance(part, list) and part else part
    first = task[0] if isinstance(task, tuple) and task else task
    return str(first)


def completed_map(fn: Callable[[T], R], tasks: Sequence[T], nj: int, start_method: str | None = None,
                  cluster: str | None = None) -> Iterator[tuple[T, R | None, BaseException | None]]:
    """(task, result, None) or (task, None, error) for every task, as each finishes; one failing task does not
    stop the others."""
    with _executor(min(nj, len(tasks)), cluster, None, (), start_method) as (pool, wrap):
        futures = {pool.submit(wrap(fn), task): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except BaseException as err:  # noqa: BLE001 - handed to the caller with its task
                yield futures[future], None, err


@contextmanager
def batch_runner(nj: int, cluster: str | None = None,
                 start_method: str | None = None) -> Iterator[Callable[[Callable[[T], R], Sequence[T]], list[R]]]:
    """A function `run(fn, tasks) -> results in task order`, backed by one pool (or Dask client) kept for the
    whole block. Why: a search asks for a batch of trials, runs them, learns from the results, then asks for the
    next batch; starting workers once per batch would cost more than a small trial. With `nj` <= 1 and no
    `cluster` the tasks run here. The first failing task raises once every task of its batch has finished."""
    if nj <= 1 and not cluster:
        yield lambda fn, tasks: [fn(task) for task in tasks]
        return
    with _executor(nj, cluster, None, (), start_method) as (pool, wrap):
        def run(fn: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
            futures = [pool.submit(wrap(fn), task) for task in tasks]
            for future in futures:  # wait for all, so no task of a failed batch is left running behind the caller
                future.exception()
            return [_result(task, future) for task, future in zip(tasks, futures)]

        yield run


__all__ = [
    "DASK_START_METHOD",
    "LOCAL_DASK_CONFIG",
    "PR_SET_PDEATHSIG",
    "Terminated",
    "batch_runner",
    "completed_map",
    "dask_executor",
    "default_start_method",
    "die_with_parent",
    "local_dask_config",
    "ordered_map",
    "process_pool",
    "stop_workers",
    "stop_workers_on_sigterm",
]
