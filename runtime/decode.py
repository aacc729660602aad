"""The decode driver: a batch of rows, each with its own grammar (or none) and budget, through
`model.generate(..., logits_processor=[GrammarLogitsProcessor])`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.grammar.compiler import CompiledGrammar
from runtime.grammar.processor import GrammarLogitsProcessor
from runtime.quant import decoding_after_prompt


@dataclass
class Generation:
    """Token-level result of one generated row."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (eos) | "length" (max_tokens ran out) | "cancelled"
    # Tokens the grammar forced and the decode loop appended without a step of their own.
    forced_tokens: int = 0
    # time.perf_counter() when its first token was chosen (after queue and prefill)
    first_token_at: float | None = None


@dataclass
class Row:
    """One completion to decode: a chat-formatted prompt, its grammar (None = free) and budget."""

    prompt: str
    grammar: CompiledGrammar | None
    max_tokens: int
    watch: RowWatch | None = None
    # How many leading characters of `prompt` other requests share (system turn, few-shot
    # turns): their KV is kept and reused (runtime.prefix). 0 = none.
    prefix: int = 0


class RowWatch:
    """A caller's window on one row while it decodes: the text as its tokens are chosen, and a
    way to stop it (a client that went away). Calls come from the decoding thread."""

    def __init__(self, on_text: Callable[[str], None] | None = None) -> None:
        self.on_text = on_text
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class Watchers:
    """A stopping criterion that feeds each watched row's new text to its watch after every
    step and stops the rows whose watch was cancelled (the others decode on unchanged)."""

    def __init__(
        self, tokenizer: Any, prompt_width: int, rows: Sequence[Row], eos_token_id: int
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.rows = rows
        self.eos = eos_token_id
        self.ids: list[list[int]] = [[] for _ in rows]
        self.sent = [""] * len(rows)
        self.done = [False] * len(rows)

    def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
        import torch

        made = input_ids.shape[1] - self.prompt_width
        for i, row in enumerate(self.rows):
            watch = row.watch
            if watch is None or self.done[i]:
                continue
            token = int(input_ids[i, -1])
            if token == self.eos or made > row.max_tokens or watch.cancelled:
                self.done[i] = True
                continue
            self.ids[i].append(token)
            text = self.tokenizer.decode(self.ids[i], skip_special_tokens=True)
            # A character split across tokens decodes as U+FFFD until its last byte comes.
            if watch.on_text and not text.endswith("\ufffd") and len(text) > len(self.sent[i]):
                watch.on_text(text[len(self.sent[i]) :])
                self.sent[i] = text
        return torch.tensor(
            [row.watch is not None and row.watch.cancelled for row in self.rows],
            device=input_ids.device,
        )


class RowBudgets:
    """A stopping criterion that ends each row at its own max_tokens (the batch runs to the
    largest); a stopped row is padded by generate and cut back to its budget afterwards."""

    def __init__(self, prompt_width: int, budgets: Sequence[int]) -> None:
        self.prompt_width = prompt_width
        self.budgets = budgets

    def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
        import torch

        made = input_ids.shape[1] - self.prompt_width
        return torch.tensor([made >= b for b in self.budgets], device=input_ids.device)


def generate_batch(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    *,
    temperature: float = 0.0,
    seed: int | None = None,
) -> list[Generation]:
    """Decode `rows` as one left-padded batch; greedy at temperature 0.

    Each row keeps its own grammar (one matcher a row) and budget; its adapter is the caller's
    (runtime.lora.LoraBank.rows). A row that finishes early is padded until the last one finishes
    (no continuous batching), so the batch keeps its rows in place. Greedy rows give
    the same tokens as decoded alone, up to floating-point ties.

    Not thread-safe: the caller serializes use of `model` (sampling seeds torch's global RNG).
    """
    import torch
    from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

    enc = tokenizer(
        [row.prompt for row in rows],
        return_tensors="pt",
        padding=True,
        padding_side="left",
        add_special_tokens=False,
    )
    device = next(model.parameters()).device
    input_ids = enc["input_ids"].to(device)
    attention_mask = enc["attention_mask"].to(device)
    width = input_ids.shape[1]
    budgets = [row.max_tokens for row in rows]
    eos = int(tokenizer.eos_token_id)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    do_sample = temperature > 0
    config = GenerationConfig(
        max_new_tokens=max(budgets),
        do_sample=do_sample,
        temperature=temperature if do_sample else None,
        top_k=0 if do_sample else None,  # plain temperature sampling: no hidden top-k cut
        top_p=1.0 if do_sample else None,
        eos_token_id=eos,
        pad_token_id=pad,
        bos_token_id=tokenizer.bos_token_id,
    )
    processors = LogitsProcessorList()
    if any(row.grammar is not None for row in rows):
        matchers = [row.grammar.matcher() if row.grammar else None for row in rows]
        processors.append(
            GrammarLogitsProcessor(matchers, eos_token_id=eos, vocab_size=len(tokenizer))
        )
    stopping = StoppingCriteriaList()
    if len(set(budgets)) > 1:
        stopping.append(RowBudgets(width, budgets))
    if any(row.watch is not None for row in rows):
        stopping.append(Watchers(tokenizer, width, rows, eos))
    if do_sample and seed is not None:
        torch.manual_seed(seed)
    with torch.inference_mode(), decoding_after_prompt(model):
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=config,
            logits_processor=processors,
            stopping_criteria=stopping,
        )
    generations = []
    for i, budget in enumerate(budgets):
        new = out[i, width : width + budget].tolist()
        finish = "length"
        watch = rows[i].watch
        if watch is not None and watch.cancelled:
            finish = "cancelled"
        elif eos in new:
            new = new[: new.index(eos) + 1]
            finish = "stop"
        generations.append(
            Generation(
                text=tokenizer.decode(new, skip_special_tokens=True),
                prompt_tokens=int(attention_mask[i].sum()),
                completion_tokens=len(new),
                finish_reason=finish,
            )
        )
    return generations


def generate(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    grammar: CompiledGrammar | None,
    max_tokens: int,
    temperature: float = 0.0,
    seed: int | None = None,
) -> Generation:
    """One completion for `prompt` (already chat-formatted): a batch of one."""
    (generation,) = generate_batch(
        model,
        tokenizer,
        [Row(prompt, grammar, max_tokens)],
        temperature=temperature,
        seed=seed,
    )
    return generation
