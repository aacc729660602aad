"""The model runtime: one base model serving every adapter, batched, grammar-constrained.

No web framework, database or metrics library here (import-linter checks it): the runtime
reports through `RuntimeEvents`. torch, transformers, peft and the grammar libraries are
imported lazily, so importing this package is cheap.
"""

from runtime.adapters import AdapterRefused
from runtime.decode import RowWatch
from runtime.events import RuntimeEvents
from runtime.grammar import GrammarCompileError, GrammarTimeout
from runtime.runtime import (
    MODES,
    Attempt,
    GenerateRequest,
    GenerateResult,
    Mode,
    ModelRuntime,
    RuntimeNotReady,
    Usage,
    validate_text,
)
from runtime.scheduler import FairScheduler, QueueFull

__all__ = [
    "MODES",
    "AdapterRefused",
    "Attempt",
    "FairScheduler",
    "GenerateRequest",
    "GenerateResult",
    "GrammarCompileError",
    "GrammarTimeout",
    "Mode",
    "ModelRuntime",
    "QueueFull",
    "RowWatch",
    "RuntimeEvents",
    "RuntimeNotReady",
    "Usage",
    "validate_text",
]
