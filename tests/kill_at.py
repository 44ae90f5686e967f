"""Run a `lookalike` command and SIGKILL it at a chosen point, to test crash safety.

    python -m tests.kill_at [--exact-limit K] POINT N -- LOOKALIKE-ARGS...

POINT is where the process dies on the Nth time it gets there:
- `embed`: as the loaded model starts a batch (earlier batches are stored, this one is lost);
- `commit`: inside the transaction storing a batch of vectors, its writes done, before COMMIT;
- `replace:SUFFIX`: at an atomic rename onto a file named `*SUFFIX`, the new file written and
  synced, the old one still in place (index files, their meta, the trainer's state).
- `trash`: in a clean-up, right after a file went to the trash and before the journal says so.

The kill is a real SIGKILL of this process: no handler, no cleanup, no flush.
Every save is made at once (not every 30 s) so that kills land between saves too.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any


def _die_on_call(count: int) -> Callable[[], None]:
    """A function that kills the process on its `count`th call."""
    calls = 0

    def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == count:
            os.kill(os.getpid(), signal.SIGKILL)

    return tick


def _arm_embed(count: int) -> None:
    """Counts the batches of a loaded model only (not the probe images it checks itself with)."""
    from retrieval_app.core.embedder import Embedder

    tick, original, original_init = _die_on_call(count), Embedder.embed_tensors, Embedder.__init__
    loaded: set[int] = set()

    def init(self: Embedder, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        loaded.add(id(self))

    def embed_tensors(self: Embedder, batch: Any) -> Any:
        if id(self) in loaded:
            tick()
        return original(self, batch)

    Embedder.__init__ = init
    Embedder.embed_tensors = embed_tensors


def _arm_commit(count: int) -> None:
    from retrieval_app.core.catalogue import Catalogue

    tick = _die_on_call(count)
    original_store, original_transaction = Catalogue.store_results, Catalogue.transaction
    storing = False

    def store_results(self: Catalogue, *args: Any) -> list[int]:
        nonlocal storing
        storing = True
        try:
            return original_store(self, *args)
        finally:
            storing = False

    @contextmanager
    def transaction(self: Catalogue) -> Any:
        with original_transaction(self) as db:
            yield db
            if storing:
                tick()

    Catalogue.store_results = store_results
    Catalogue.transaction = transaction


def _arm_replace(suffix: str, count: int) -> None:
    tick, original = _die_on_call(count), os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(dst).endswith(suffix):
            tick()
        original(src, dst, *args, **kwargs)

    os.replace = replace


def _arm_trash(count: int) -> None:
    from retrieval_app.core import cleanup

    tick, original = _die_on_call(count), cleanup.move_to_trash

    def move_to_trash(path: str) -> str | None:
        moved = original(path)
        tick()
        return moved

    cleanup.move_to_trash = move_to_trash


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("point")
    parser.add_argument("count", type=int)
    parser.add_argument("--exact-limit", type=int, help="vectors before HNSW replaces exact search")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()

    import retrieval_app.core.index_store as index_store
    import retrieval_app.core.library as library

    library.SAVE_EVERY_SECONDS = 0.0
    if args.exact_limit is not None:
        index_store.EXACT_LIMIT = args.exact_limit
    if args.point == "embed":
        _arm_embed(args.count)
    elif args.point == "commit":
        _arm_commit(args.count)
    elif args.point == "trash":
        _arm_trash(args.count)
    elif args.point.startswith("replace:"):
        _arm_replace(args.point.removeprefix("replace:"), args.count)
    else:
        parser.error(f"unknown kill point {args.point!r}")

    from retrieval_app.cli.main import main as lookalike

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return lookalike(command)


if __name__ == "__main__":
    raise SystemExit(main())
