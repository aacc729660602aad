"""outlines_core: a regex from the schema, an index over the vocabulary (slowest to compile)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from runtime.grammar.base import GrammarBackend, GrammarCompileError, RowMatcher


class OutlinesCoreMatcher:
    def __init__(self, index: Any, eos_token_id: int) -> None:
        from outlines_core import Guide

        self.index = index
        self.guide = Guide(index)
        self.eos = eos_token_id
        self.done = False
        self.tokens: list[int] = []  # consumed so far: a copy replays them

    def fill(self, bitmask: Any, row: int) -> None:
        v = bitmask[row : row + 1]
        self.guide.write_mask_into(v.data_ptr(), v.numel(), v.element_size())

    def advance(self, token_id: int) -> bool:
        if token_id == self.eos and self.guide.is_finished():
            self.done = True
            return True
        if not self.guide.accepts_tokens([token_id]):
            return False
        self.guide.advance(token_id=token_id, return_tokens=False)
        self.tokens.append(token_id)
        return True

    def is_terminated(self) -> bool:
        return self.done

    def forced(self) -> list[int]:
        return []  # outlines_core's Guide does not say

    def copy(self) -> OutlinesCoreMatcher:
        twin = OutlinesCoreMatcher(self.index, self.eos)
        for token in self.tokens:  # a Guide cannot be copied: replay (microseconds a token)
            twin.advance(token)
        twin.done = self.done
        return twin


class OutlinesCoreBackend(GrammarBackend):
    name = "outlines_core"

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        from outlines.backends.outlines_core import OutlinesCoreBackend as Outlines

        # Outlines' own vocabulary conversion: it knows how byte-level BPE tokens map to text.
        self.vocabulary = Outlines.create_outlines_core_vocabulary(
            tokenizer.get_vocab(),
            self.eos_token_id,
            tokenizer.eos_token,
            lambda token: tokenizer.convert_tokens_to_string([token]),
        )

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        with _CHILDREN:
            index = _index_in_child(schema_json, self.vocabulary)
        eos = self.eos_token_id
        return lambda: OutlinesCoreMatcher(index, eos)


# outlines_core's index can grow without bound (13 GB and still going on a SchemaStore schema),
# and a thread cannot be stopped: it is built in a child process with a memory ceiling and
# killed at the time limit, so an abandoned compile ends instead of running on. At most two run
# at once (the others wait their turn), which bounds the memory of abandoned ones too.
COMPILE_MEMORY_BYTES = 4 * 2**30
COMPILE_TIME_LIMIT_S = 60.0
_CHILDREN = threading.BoundedSemaphore(2)


def _index_in_child(schema_json: str, vocabulary: Any) -> Any:
    """Build the Index in a forkserver child (fork without the parent's threads) and receive it
    pickled; GrammarCompileError when the child fails, exceeds its memory or its time."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["outlines_core"])
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_build_index,
        args=(send, schema_json, vocabulary, COMPILE_MEMORY_BYTES),
        name="outlines-core-compile",
        daemon=True,
    )
    child.start()
    send.close()
    try:
        if not receive.poll(COMPILE_TIME_LIMIT_S):
            raise GrammarCompileError(
                f"outlines_core: gave up compiling after {COMPILE_TIME_LIMIT_S:g} s"
            )
        status, value = receive.recv()
    except EOFError:
        raise GrammarCompileError(
            f"outlines_core: the compile died (memory limit {COMPILE_MEMORY_BYTES >> 30} GiB)"
        ) from None
    finally:
        receive.close()
        child.kill()
        child.join()
    if status == "error":
        raise GrammarCompileError(f"outlines_core: {value}")
    return value


def _build_index(send: Any, schema_json: str, vocabulary: Any, memory_bytes: int) -> None:
    import resource

    from outlines_core import Index
    from outlines_core.json_schema import build_regex_from_schema

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        # "" = no whitespace between JSON tokens (None would allow optional spaces).
        regex = build_regex_from_schema(schema_json, "")
        send.send(("ok", Index(regex, vocabulary)))
    except (ValueError, RuntimeError, TypeError, MemoryError) as exc:
        send.send(("error", str(exc)))
