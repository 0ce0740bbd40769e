"""What the metrics do across the ranks of a distributed test: share the
work, see every record, and fail together.

In one process every helper is a plain call (exceptions keep their type);
with several ranks a failure on any rank is raised on every rank, so none
is left waiting in a collective the failed rank never reaches.
"""
from typing import Any, Callable, List

from mmengine.dist import all_gather_object, get_rank, get_world_size

__all__ = ['pair_share', 'gather_to_every_rank', 'run_on_every_rank']


def pair_share(num_pairs: int, rank: int, world_size: int) -> slice:
    """The contiguous block of the ``num_pairs`` frame pairs that ``rank``
    scores (blocks keep a sequence's pairs together, so each frame's image
    is read about once); the blocks of all ranks cover every pair once."""
    return slice(rank * num_pairs // world_size,
                 (rank + 1) * num_pairs // world_size)


def gather_to_every_rank(records: List[Any]) -> List[Any]:
    """Every rank's ``records`` concatenated in rank order, on every rank
    (one ``all_gather_object``; a copy of ``records`` in one process)."""
    if get_world_size() == 1:
        return list(records)
    return [r for part in all_gather_object(list(records)) for r in part]


def run_on_every_rank(what: str, fn: Callable, *args,
                      gather: bool = False) -> Any:
    """Runs ``fn(*args)`` on this rank and raises on every rank if it failed
    on any.

    Args:
        what: the name in the error (``'<what> failed: rank r: ...'``).
        fn, args: the call.
        gather: return the list of every rank's result (rank order)
            instead of this rank's.

    Raises:
        RuntimeError: with several ranks, naming each failed rank and its
            error (the first error is chained on the rank that raised it).
            In one process ``fn``'s own exception propagates.
    """
    if get_world_size() == 1:
        out = fn(*args)
        return [out] if gather else out
    error = None
    try:
        part = ('ok', fn(*args))
    except Exception as e:  # noqa: BLE001 (re-raised on every rank below)
        error = e
        part = ('error', f'rank {get_rank()}: {type(e).__name__}: {e}')
    parts = all_gather_object(part)
    failures = [msg for kind, msg in parts if kind == 'error']
    if failures:
        raise RuntimeError(f'{what} failed: ' + '; '.join(failures)) \
            from error
    return [value for _, value in parts] if gather else part[1]
