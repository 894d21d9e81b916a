"""Running independent tasks in worker processes: the one place `ser` parallelises (extraction, scoring,
folds), through the standard ``concurrent.futures`` interface.

Why one module: the verbs need the same things from a pool (results in input order with only a few in
flight, or results as they finish; a worker initialiser; a clear error instead of a hang when a worker
dies) and should not each carry a copy. ``ProcessPoolExecutor`` raises ``BrokenProcessPool`` on the
futures of a worker killed from outside (the OOM killer) where ``multiprocessing.Pool`` waits for ever.

Start methods: `fork` where safe (the parent has run no torch/OpenMP threads: extraction, scoring) because
workers start at once; `spawn` for fold training, since a forked child of a process whose OpenMP threads
already ran can deadlock.

Past one machine: `cluster` (the verbs' `--cluster`) runs the same tasks on a Dask cluster through its
``concurrent.futures`` executor: `local:N` starts a LocalCluster of N one-thread worker processes here,
`tcp://HOST:8786` joins a running scheduler, a `.json` path is a scheduler file (`dask scheduler
--scheduler-file F`; SLURM/PBS clusters from dask-jobqueue write one). Results come back to the client, which
alone writes the ark/scp (workers need no shared filesystem for features); fold training writes its fold dirs,
so the experiment dir must be on a filesystem every worker sees. Dask resubmits the tasks of a worker that dies.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import sys
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


def process_pool(nj: int, initializer: Callable[..., None] | None = None, initargs: Sequence[Any] = (),
                 start_method: str | None = None) -> Executor:
    """A local pool of `nj` worker processes."""
    context = mp.get_context(start_method or default_start_method())
    return ProcessPoolExecutor(max_workers=nj, mp_context=context, initializer=initializer, initargs=tuple(initargs))


@contextmanager
def dask_executor(cluster: str) -> Iterator[Executor]:
    """A Dask client's executor for `cluster` (local:N, tcp://host:port or a scheduler file), closed afterwards."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SerError("--cluster needs Dask: pip install 'dask[distributed]'") from None
    local = None
    if cluster.startswith("local:"):
        local = LocalCluster(n_workers=int(cluster[6:]), threads_per_worker=1, processes=True, dashboard_address=None)
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


def _initialised(initializer: Callable[..., None] | None, initargs: Sequence[Any], fn: Callable[[T], R], task: T) -> R:
    """A task on a Dask worker: the pool initializer runs first (its work is cached per process)."""
    if initializer is not None:
        initializer(*initargs)
    return fn(task)


@contextmanager
def _executor(nj: int, cluster: str | None, initializer, initargs, start_method) -> Iterator[tuple[Executor, Callable]]:
    if cluster:
        with dask_executor(cluster) as pool:
            yield pool, lambda fn: functools.partial(_initialised, initializer, tuple(initargs), fn)
    else:
        with process_pool(nj, initializer, initargs, start_method) as pool:
            yield pool, lambda fn: fn


def ordered_map(fn: Callable[[T], R], tasks: Iterable[T], nj: int, initializer: Callable[..., None] | None = None,
                initargs: Sequence[Any] = (), start_method: str | None = None, in_flight: int = 0,
                cluster: str | None = None, chunk: int = 8) -> Iterator[R]:
    """`fn(task)` for every task, yielded in task order; with `nj` > 1 (or a `cluster`) in worker processes with at
    most `in_flight` (default 2 x nj) submissions ahead, so memory stays flat however many tasks there are. On a
    cluster, tasks travel in chunks of `chunk` (Kaldi's split_data idea: a network round trip per utterance would
    cost more than the utterance). With `nj` <= 1 and no cluster everything runs here, after `initializer` once."""
    tasks = iter(tasks)
    if nj <= 1 and not cluster:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, tasks)
        return
    size = chunk if cluster else 1
    with _executor(nj, cluster, initializer, initargs, start_method) as (pool, wrap):
        call = wrap(functools.partial(_map_chunk, fn))
        pending: deque[tuple[list[T], Future]] = deque()
        limit = in_flight or (16 if cluster else 2 * nj)
        while True:
            part = list(islice(tasks, size))
            if not part:
                break
            pending.append((part, pool.submit(call, part)))
            if len(pending) >= limit:
                yield from _result(*pending.popleft())
        while pending:
            yield from _result(*pending.popleft())


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
