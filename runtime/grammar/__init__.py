"""Grammar-constrained decoding: one module per backend behind `GrammarBackend`, a compiler with
a bounded cache and timeouts, and the logits processor that applies one grammar per batch row.

`BACKENDS` is the public registry (name -> backend class); the compiler, the benchmarks and the
tests choose backends from it.
"""

from runtime.grammar.backend_llguidance import LLGuidanceBackend
from runtime.grammar.backend_outlines_core import OutlinesCoreBackend
from runtime.grammar.backend_xgrammar import XGrammarBackend
from runtime.grammar.base import GrammarBackend, GrammarCompileError, GrammarTimeout, RowMatcher

BACKENDS: dict[str, type[GrammarBackend]] = {
    backend.name: backend for backend in (OutlinesCoreBackend, LLGuidanceBackend, XGrammarBackend)
}

__all__ = [
    "BACKENDS",
    "GrammarBackend",
    "GrammarCompileError",
    "GrammarTimeout",
    "RowMatcher",
]
