"""The cluster the population screen runs on (`service.screen.plan`), and how a stage's
tasks are run there.

`dask_client` connects to a Dask scheduler, or starts a local cluster on loopback;
`run_tasks` maps one task over a stage's items, reports progress as they finish and
gives the results in item order, cancelling what is left if anything fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from distributed import Client, LocalCluster, as_completed

__all__ = ["Progress", "dask_client", "run_tasks"]

# (stage label, tasks done, tasks in all), at the start and as each task finishes.
Progress = Callable[[str, int, int], None]
_T = TypeVar("_T")


@contextmanager
def dask_client(
    scheduler: str | None = None, *, workers: int = 2, processes: bool = True
) -> Iterator[Client]:
    """A client of the scheduler at `scheduler`, else of a local cluster on loopback
    (`workers` single-threaded worker processes; threads with `processes=False`)."""
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    # Worker processes talk TCP on loopback only; threads talk in process.
    where = {"host": "127.0.0.1"} if processes else {}
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            # The scheduler serves HTTP whatever this says (health; the dashboard with
            # bokeh): on loopback and a free port, never 0.0.0.0:8787.
            dashboard_address="127.0.0.1:0",
            **where,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_tasks(
    client: Client,
    label: str,
    task: Callable[..., _T],
    items: Sequence[Any],
    progress: Progress | None,
    **shared: Any,
) -> list[_T]:
    """`task(item, **shared)` for every item on the cluster, results in item order."""
    if progress:
        progress(label, 0, len(items))
    if not items:
        return []
    futures = client.map(task, items, pure=False, **shared)
    where = {future.key: number for number, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            results[where[future.key]] = future.result()
            if progress:
                progress(label, done, len(futures))
    except BaseException:
        client.cancel(futures)
        raise
    return results
