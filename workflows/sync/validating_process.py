"""Usage rows of a CSV file validated in a forked process while this one writes them.

In one process the validator (parsing, converting and checking every value: pure Python) and the
writer (building each row's parameters for the database) take turns on one interpreter lock, so a
writer thread beside the validator gains little. A forked child has a lock of its own: it reads and
validates the file and sends each batch of valid rows down a pipe; this process writes them. When
the file is done the child sends back what the validator learned (problems, tally, instance
summaries) and exits; its per-row keys never cross over.

Fork, not spawn: the child starts with the validator as it is (the accounts and subscriptions
checked just before) and the open reader, without pickling either. It touches no database
connection, and ends without cleanup (`os._exit`, via multiprocessing), so nothing it inherited is
closed or finalized on the parent's behalf. CSV readers only: a SQL source's cursor lives on a
connection the child must not use.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import pickle
from collections.abc import Callable, Generator
from multiprocessing.connection import Connection as PipeEnd
from typing import Any

from workflows.sync.sources import SourceError, TableReader, batched
from workflows.sync.validate import Validator

Batch = list[tuple[Any, ...]]


class ValidationProcessFailed(SourceError):
    """The process reading and checking the file stopped before its end (killed: out of memory, a signal).

    A source error, not a bug of the sync: the export was not read whole, so nothing is loaded, and the
    person or the clock is told so in one line."""


def available(reader: TableReader) -> bool:
    """Can `reader`'s rows be validated in a forked process here?"""
    return reader.is_csv and "fork" in multiprocessing.get_all_start_methods()


# Each message is one byte saying what it is, then its pickled body.
_ROWS, _DONE, _FAILED = b"r", b"d", b"f"


def _send(end: PipeEnd, kind: bytes, body: Any) -> None:
    end.send_bytes(kind + pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL))


def _child(validator: Validator, reader: TableReader, size: int, end: PipeEnd) -> None:
    # The child shares the parent's sockets and files: a collection could finalize a copied connection
    # wrapper. It holds no cycles worth collecting and lives only as long as the file takes.
    gc.disable()
    try:
        for batch in batched(validator.check_usage(reader), size):
            position = reader.position() if reader.position is not None else None
            # After the first problem nothing will be loaded: only progress goes over, validation goes on.
            _send(end, _ROWS, (None if validator.problems else batch, position))
        # Both processes hold the summaries for a moment while they cross over: the keys go first.
        validator.forget_usage_keys()
        _send(end, _DONE, (validator.problems, validator.tally, validator.instances))
    except BaseException as exc:  # whatever it is, the parent re-raises it
        # The parent may be gone or have stopped listening (a write failed): then there is no one to tell, and
        # nothing is printed in its terminal.
        with contextlib.suppress(OSError):
            try:
                _send(end, _FAILED, exc)
            except (pickle.PicklingError, TypeError, AttributeError):  # an exception that does not pickle
                _send(end, _FAILED, RuntimeError(f"{type(exc).__name__}: {exc}"))
    finally:
        end.close()


def _unpickled_error(body: memoryview) -> BaseException:
    try:
        error = pickle.loads(body)
    except Exception as exc:  # an exception class that pickles but cannot be rebuilt here
        return RuntimeError(f"the validating process failed ({type(exc).__name__} rebuilding its error)")
    return error if isinstance(error, BaseException) else RuntimeError(repr(error))


def validated_batches(
    validator: Validator, reader: TableReader, size: int, progress: Callable[[int], None] | None = None
) -> Generator[Batch, None, None]:
    """Valid rows of `reader` in batches of `size`, checked by a forked child, until the first problem.

    When the generator is exhausted, `validator` holds what it would hold had it checked the rows in this
    process: every problem, the tally and the instance summaries. Closing it early (the database refused a
    batch) stops the child.
    """
    receive, send = multiprocessing.Pipe(duplex=False)
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_child, args=(validator, reader, size, send), name="sync-validator", daemon=True)
    child.start()
    send.close()
    finished = False
    try:
        while True:
            try:
                message = receive.recv_bytes()
            except EOFError:
                child.join(5)
                raise ValidationProcessFailed(
                    f"{reader.label} could not be read to the end: the process checking it stopped"
                    f" (exit code {child.exitcode})"
                ) from None
            kind, body = message[:1], memoryview(message)[1:]
            if kind == _ROWS:
                batch, position = pickle.loads(body)
                if progress is not None and position is not None:
                    progress(position)
                if batch is not None:
                    yield batch
            elif kind == _DONE:
                # The child exits once this is sent: its memory is freed before the summaries are unpacked here.
                child.join()
                validator.problems, validator.tally, validator.instances = pickle.loads(body)
                finished = True
                return
            else:
                raise _unpickled_error(body)
    finally:
        if not finished and child.is_alive():
            child.kill()  # before the pipe closes, so the child never meets a closed pipe
        receive.close()
        child.join()
