"""Options of the synthesis and fine-tuning stages, checked when they are built.

Defaults are sized for SmolLM2-135M-Instruct on 2 CPU cores. One snips-weather example is
~100 tokens (the adapter prompt has no schema: prompt ~45 + target ~56; with the schema it was
~330). The run is sized in passes over the data: three (`epochs`), bounded by `max_steps` and by
a token budget (`max_train_tokens`) that caps the time when inputs are long. Passes are what
the accuracy follows, on the measurements so far (bench/train.py, whole test sets):
snips-weather went from 80.6% field accuracy at one pass to ~95% at two, and snips-commands
(labeled spans in a list) from 43% exact / 65% field at 1.3 passes (the old 300-step, 125k-token
caps) to 61% / 80% at 2.3 (525 steps, 2026-12-07). So the caps (600 steps, 200k tokens) let a
task of up to ~650 short pairs (a 400-example job: ~350 real + ~200 synthetic) train its
three passes, while 350-token inputs stop at ~140 steps (copying fields needs fewer: receipts
scored 100% at 80). A run also ends once it has converged (`converged_loss`): the mean loss of
its last 30 steps under 0.001 nats per target token, a floor a task that is only copying
reaches (receipts: ~0.0005 after step 40). A plateau above it is not the end: snips-weather's
loss sits at 0.002-0.005 from step ~300 while the decaying learning rate still gains accuracy
(rank 32: stopped at 337 of 450 steps under the old 0.005, 82% exact / 96.9% field served,
2026-12-07; all 450, 86% / 97.7%, 2026-12-08; receipts now stops at 69 of 127, not 60: 100%).
A 400-example job trains ~410 steps: ~7-8 minutes where a step takes 1.0-1.2 s
(an AMX Xeon), ~28 where it takes 4.1 (an AVX2-only EPYC, fp32). Batch 4 rather than 8 buys twice
the optimizer steps for the same tokens; hence the high-for-LoRA learning rate (the loss is
~0.4 by step 5).
`precision` "auto" trains in bf16 where the CPU has bf16 dot-product instructions (AVX512_BF16
or AMX): base weights stored in bf16, the adapter and its optimizer in fp32, matmuls under
autocast. On an AMD EPYC with AVX512_BF16 a snips-commands step took 1,660 ms against 2,215 in
fp32 (2026-12-07); autocast over fp32 weights, which casts every weight every step, was no
faster there (an earlier note measured it ~15% faster on an AMX Xeon). Without those
instructions bf16 is emulated: an Ice Lake Xeon (AVX-512, no AVX512_BF16) took 2.3x fp32's
time a step, so "auto" stays fp32.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

from training.splits import DEFAULT_MAX_SHARE

TEACHERS = ("base", "external")
PRECISIONS = ("auto", "fp32", "bf16")


class _Options:
    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Self:
        """Build from e.g. a job's params; unknown keys are an error, not silently dropped."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} option(s): {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


@dataclass
class SynthesisConfig(_Options):
    enabled: bool = field(default=True, metadata={"help": "Synthesize pairs at all."})
    target: int = field(
        default=200,
        metadata={
            "help": "Synthetic pairs to aim for. Fewer come out when the examples allow fewer "
            "distinct substitutions. The default training run reads ~200 examples, so more "
            "mostly adds variety, not steps."
        },
    )
    seed: int = field(default=0, metadata={"help": "Same seed and examples -> same pairs."})
    max_array_len: int = field(
        default=16,
        metadata={"help": "Examples with a longer array are not used as sources."},
    )
    from_examples: bool = field(
        default=True,
        metadata={"help": "Substitute values that other examples use for the same field."},
    )
    from_schema: bool = field(
        default=True,
        metadata={
            "help": "Substitute values the schema implies: enum members, const, bounds, "
            "format-valid samples."
        },
    )
    min_grounded_share: float = field(
        default=0.8,
        metadata={
            "help": "A field is substituted only when at least this share of its values in the "
            "examples occurs verbatim in the input (enum labels like a slot name do not)."
        },
    )
    cover_enums: bool = field(
        default=True, metadata={"help": "Steer sources so every substitutable enum member appears."}
    )
    cover_branches: bool = field(
        default=True,
        metadata={"help": "Steer sources so every value/null/absent branch seen in data appears."},
    )
    cover_array_lengths: bool = field(
        default=True,
        metadata={"help": "Steer sources so every array length seen in data appears."},
    )
    max_attempts_per_pair: int = field(
        default=20,
        metadata={"help": "Give up after target x this many tries (duplicates, no slot)."},
    )
    teacher: str | None = field(
        default=None,
        metadata={"help": "Label unlabeled inputs with 'base' (few-shot) or 'external'."},
    )
    agree_samples: int = field(
        default=1, metadata={"help": "Teacher samples per input that must agree (1 or 2)."}
    )

    def __post_init__(self) -> None:
        _check(isinstance(self.enabled, bool), "enabled must be true or false")
        _check(
            _is_int(self.target) and 0 <= self.target <= 100_000,
            f"target must be an integer in [0, 100000], got {self.target!r}",
        )
        _check(
            _is_int(self.seed) and self.seed >= 0,
            f"seed must be a non-negative integer, got {self.seed!r}",
        )
        _check(
            _is_int(self.max_array_len) and self.max_array_len >= 1,
            f"max_array_len must be an integer >= 1, got {self.max_array_len!r}",
        )
        _check(
            _is_number(self.min_grounded_share) and 0 < self.min_grounded_share <= 1,
            f"min_grounded_share must be in (0, 1], got {self.min_grounded_share!r}",
        )
        _check(
            _is_int(self.max_attempts_per_pair) and self.max_attempts_per_pair >= 1,
            f"max_attempts_per_pair must be an integer >= 1, got {self.max_attempts_per_pair!r}",
        )
        _check(
            self.teacher is None or self.teacher in TEACHERS,
            f"teacher must be one of {', '.join(TEACHERS)} or null, got {self.teacher!r}",
        )
        _check(
            self.agree_samples in (1, 2) and _is_int(self.agree_samples),
            f"agree_samples must be 1 or 2, got {self.agree_samples!r}",
        )


@dataclass
class TrainingConfig(_Options):
    epochs: float = field(
        default=3.0,
        metadata={"help": "Passes over the training set; max_steps caps it (the lower wins)."},
    )
    max_steps: int = field(
        default=600,
        metadata={"help": "Optimizer steps at most (1.0-4.1 s each on 2 CPU cores for snips)."},
    )
    max_train_tokens: int | None = field(
        default=200_000,
        metadata={
            "help": "Tokens trained on at most (prompt + target, summed over steps): bounds the "
            "time when inputs are long (~500 steps of 100-token snips examples, ~140 of "
            "350-token receipts; null: no bound)."
        },
    )
    converged_loss: float | None = field(
        default=0.001,
        metadata={
            "help": "End the run early once the mean training loss over the last "
            "converged_window steps is below this (nats per target token: the model gives "
            "its training targets ~99.9% token by token, and further steps teach it little; "
            "null: run every planned step)."
        },
    )
    converged_window: int = field(
        default=30, metadata={"help": "Steps whose mean loss converged_loss compares."}
    )
    lora_rank: int = field(
        default=32,
        metadata={
            "help": "LoRA rank r (9.8 M params at 32). On snips-commands (a list of typed "
            "spans) 32 gave 70% exact / 83% field accuracy against 62% / 78.5% at 8, in the "
            "same training time."
        },
    )
    lora_alpha: float | None = field(
        default=None,
        metadata={"help": "LoRA scale numerator; null: 2 x lora_rank (a scale of 2 at any rank)."},
    )
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: str | list[str] = field(
        default="all-linear",
        metadata={"help": "Modules to adapt; 'all-linear' = every linear projection but lm_head."},
    )
    lora_layers: float = field(
        default=1.0,
        metadata={
            "help": "Share of the decoder layers, counted from the top, that get LoRA (1: all). "
            "The backward pass stops at the lowest adapted layer: 0.5 trained snips-weather "
            "in 60% of the time, but to 92% field accuracy instead of 96%."
        },
    )
    precision: str = field(
        default="auto",
        metadata={
            "help": "Training arithmetic on a CPU: 'fp32', 'bf16' (base weights and matmuls in "
            "bf16, the adapter in fp32), or 'auto': bf16 where the CPU has bf16 dot-product "
            "instructions (AVX512_BF16, AMX), else fp32. A GPU trains in bf16 (fp16 without)."
        },
    )
    learning_rate: float = field(
        default=1e-3, metadata={"help": "Peak AdamW learning rate (after warmup)."}
    )
    warmup_ratio: float = field(
        default=0.1, metadata={"help": "Share of the steps spent warming up linearly from 0."}
    )
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW decoupled weight decay."})
    max_grad_norm: float | None = field(
        default=1.0, metadata={"help": "Clip the gradient norm to this; null: no clipping."}
    )
    batch_size: int = field(default=4, metadata={"help": "Examples per optimizer step."})
    max_seq_len: int = field(
        default=512,
        metadata={
            "help": "Prompt + target tokens at most; longer examples are left out (never "
            "truncated: a cut target teaches wrong JSON). snips: 365 / 481 at most."
        },
    )
    bucket_batches: int = field(
        default=16,
        metadata={"help": "Length-bucket within windows of this many batches (less padding)."},
    )
    checkpoint_every: int = field(
        default=10, metadata={"help": "Save a resumable checkpoint every N steps (~1 min)."}
    )
    keep_checkpoints: int = field(default=2, metadata={"help": "Checkpoints kept on disk."})
    seed: int = field(default=0, metadata={"help": "Seeds LoRA init, data order and dropout."})
    eval_fraction: float = field(
        default=0.1, metadata={"help": "Share of the real examples held out for evaluation."}
    )
    eval_min: int = field(
        default=50,
        metadata={
            "help": "Hold out at least this many, as far as eval_max_share allows: fewer than "
            "~50 examples cannot tell two adapters apart (one example moves exact match by 2 "
            "points at 50, by 4 at 24)."
        },
    )
    eval_max: int | None = field(
        default=100,
        metadata={"help": "Hold out at most this many (evaluation time grows with it)."},
    )
    eval_max_share: float = field(
        default=DEFAULT_MAX_SHARE,
        metadata={"help": "Never hold out more than this share of the real examples."},
    )

    def __post_init__(self) -> None:
        _check(
            _is_number(self.epochs) and 0 < self.epochs <= 1000,
            f"epochs must be a number in (0, 1000], got {self.epochs!r}",
        )
        _check(
            _is_int(self.max_steps) and self.max_steps >= 1,
            f"max_steps must be an integer >= 1, got {self.max_steps!r}",
        )
        _check(
            self.max_train_tokens is None
            or (_is_int(self.max_train_tokens) and self.max_train_tokens >= 1),
            f"max_train_tokens must be null or an integer >= 1, got {self.max_train_tokens!r}",
        )
        _check(
            self.converged_loss is None
            or (_is_number(self.converged_loss) and self.converged_loss > 0),
            f"converged_loss must be null or a positive number, got {self.converged_loss!r}",
        )
        _check(
            _is_int(self.converged_window) and self.converged_window >= 1,
            f"converged_window must be an integer >= 1, got {self.converged_window!r}",
        )
        _check(
            _is_int(self.lora_rank) and 1 <= self.lora_rank <= 1024,
            f"lora_rank must be an integer in [1, 1024], got {self.lora_rank!r}",
        )
        _check(
            self.lora_alpha is None or (_is_number(self.lora_alpha) and self.lora_alpha > 0),
            f"lora_alpha must be a positive number or null, got {self.lora_alpha!r}",
        )
        _check(
            _is_number(self.lora_dropout) and 0 <= self.lora_dropout < 1,
            f"lora_dropout must be in [0, 1), got {self.lora_dropout!r}",
        )
        _check(
            self.target_modules == "all-linear"
            or (
                isinstance(self.target_modules, list)
                and bool(self.target_modules)
                and all(isinstance(m, str) and m for m in self.target_modules)
            ),
            "target_modules must be 'all-linear' or a non-empty list of module names",
        )
        _check(
            _is_number(self.lora_layers) and 0 < self.lora_layers <= 1,
            f"lora_layers must be in (0, 1], got {self.lora_layers!r}",
        )
        _check(
            self.precision in PRECISIONS,
            f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}",
        )
        _check(
            _is_number(self.learning_rate) and 0 < self.learning_rate <= 1,
            f"learning_rate must be in (0, 1], got {self.learning_rate!r}",
        )
        _check(
            _is_number(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
            f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}",
        )
        _check(
            _is_number(self.weight_decay) and self.weight_decay >= 0,
            f"weight_decay must be >= 0, got {self.weight_decay!r}",
        )
        _check(
            self.max_grad_norm is None
            or (_is_number(self.max_grad_norm) and self.max_grad_norm > 0),
            f"max_grad_norm must be a positive number or null, got {self.max_grad_norm!r}",
        )
        _check(
            _is_int(self.batch_size) and 1 <= self.batch_size <= 4096,
            f"batch_size must be an integer in [1, 4096], got {self.batch_size!r}",
        )
        _check(
            _is_int(self.max_seq_len) and self.max_seq_len >= 8,
            f"max_seq_len must be an integer >= 8, got {self.max_seq_len!r}",
        )
        _check(
            _is_int(self.bucket_batches) and self.bucket_batches >= 1,
            f"bucket_batches must be an integer >= 1, got {self.bucket_batches!r}",
        )
        _check(
            _is_int(self.checkpoint_every) and self.checkpoint_every >= 1,
            f"checkpoint_every must be an integer >= 1, got {self.checkpoint_every!r}",
        )
        _check(
            _is_int(self.keep_checkpoints) and self.keep_checkpoints >= 1,
            f"keep_checkpoints must be an integer >= 1, got {self.keep_checkpoints!r}",
        )
        _check(
            _is_int(self.seed) and self.seed >= 0,
            f"seed must be a non-negative integer, got {self.seed!r}",
        )
        _check(
            _is_number(self.eval_fraction) and 0 <= self.eval_fraction < 1,
            f"eval_fraction must be in [0, 1), got {self.eval_fraction!r}",
        )
        _check(
            _is_int(self.eval_min) and self.eval_min >= 0,
            f"eval_min must be an integer >= 0, got {self.eval_min!r}",
        )
        _check(
            self.eval_max is None or (_is_int(self.eval_max) and self.eval_max >= self.eval_min),
            f"eval_max must be null or an integer >= eval_min, got {self.eval_max!r}",
        )
        _check(
            _is_number(self.eval_max_share) and 0 < self.eval_max_share < 1,
            f"eval_max_share must be in (0, 1), got {self.eval_max_share!r}",
        )

    @property
    def alpha(self) -> float:
        """lora_alpha, or 2 x lora_rank when it is null."""
        return self.lora_alpha if self.lora_alpha is not None else 2.0 * self.lora_rank

    @property
    def lora_scale(self) -> float:
        return self.alpha / self.lora_rank
