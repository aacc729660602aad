"""The whole training pipeline with the real base model on snips-weather, snips-commands and the
synthetic long-input receipts: synthesize -> validate -> LoRA fine-tune -> evaluate (a) base
few-shot constrained, (b) adapter unconstrained, (c) adapter constrained, (d) what `auto` serves
(b where it validates, else c), on test.jsonl, and how often (c) equals (b) where (b) is
valid — and, as the speed baseline, a plain HF `Trainer` + peft run on the same pairs, batch
size and schedule, timed over its first --baseline-steps steps (its rate is steady after the
first one).

    .venv/bin/python bench/train.py [--datasets snips-weather,snips-commands,receipts]
        [--eval-limit 40 | 0 for the whole test set] [--set lora_dropout=0 ...]
        [--dump DIR: each configuration's predictions, one JSON line per test example, the
         loss of every training step (DIR/<dataset>-losses.json) and the adapter,
         DIR/<dataset>-adapter (bench/weights.py scores it)]

Training tokens/s counts non-padding tokens forwarded; the ratio column is Formwright's
tokens/s over the Trainer's, measured in the same run: the Trainer in fp32 and, where Formwright
trained in bf16, in its own mixed precision too (`bf16=True`), the ratio against the faster.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT / "bench" / "data"

from training.threads import own_thread  # noqa: E402 - after the path above


def read(path: Path):
    from training.data import Pair

    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Pair(r["input"], r["output"]) for r in rows]


@own_thread  # as our training runs: no OpenMP workers left to slow the next decoding
def trainer_baseline(
    base: Path, train, *, schema, config, steps: int, bf16: bool = False
) -> tuple[float, float]:
    """(seconds, tokens/s) of HF Trainer + peft on the same encoded pairs and steps: fp32, or
    with `bf16` the Trainer's own mixed precision (fp32 weights, bf16 autocast)."""
    import torch
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments

    from training.finetune import encode_pairs, lora_config
    from training.modeling import load_model

    model, tokenizer = load_model(base)
    model.train()
    encoded, _ = encode_pairs(tokenizer, train, schema=schema, max_seq_len=config.max_seq_len)
    model = get_peft_model(model, lora_config(config, model))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    tokens = 0

    def collate(batch):
        nonlocal tokens
        width = max(len(e.input_ids) for e in batch)
        tokens += sum(len(e.input_ids) for e in batch)
        ids = [e.input_ids + [pad] * (width - len(e.input_ids)) for e in batch]
        labels = [e.labels + [-100] * (width - len(e.labels)) for e in batch]
        mask = [[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in batch]
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(mask),
        }

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio in transformers 5
            logging_steps=10**9,
            save_strategy="no",
            report_to=[],
            use_cpu=not torch.cuda.is_available(),
            dataloader_num_workers=0,
            remove_unused_columns=False,
            bf16=bf16,
        )
        trainer = Trainer(model=model, args=args, train_dataset=encoded, data_collator=collate)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    return seconds, tokens / seconds


def run(
    dataset: str,
    eval_limit: int | None,
    baseline_steps: int,
    overrides: dict,
    dump: Path | None = None,
) -> list[str]:
    from runtime import GenerateRequest, ModelRuntime
    from service.config import Settings
    from training.config import SynthesisConfig, TrainingConfig
    from training.data import dataset_hash
    from training.evaluate import constrained_agreement, evaluate, evaluate_served
    from training.finetune import build_manifest, finetune, save_adapter
    from training.modeling import model_fingerprint, resolve_base_model
    from training.pairs import validate_pairs
    from training.spans import copied_fields
    from training.synthesis import synthesize

    folder = DATASETS / dataset
    schema = json.loads((folder / "schema.json").read_text())
    train_real = read(folder / "train.jsonl")
    test = read(folder / "test.jsonl")[:eval_limit]
    base = resolve_base_model(None, cache_dir=ROOT / Settings().models_cache_dir)
    config = TrainingConfig.from_dict(overrides)
    wall = time.perf_counter()
    synthetic, _ = synthesize(train_real, schema=schema, config=SynthesisConfig())
    report = validate_pairs(synthetic, schema=schema, real_examples=train_real + test)
    train = train_real + list(report.accepted)
    copied = copied_fields(train)
    with tempfile.TemporaryDirectory() as work:
        result = finetune(
            base, train, config=config, schema=schema, checkpoint_dir=Path(work) / "ckpt"
        )
        adapter = Path(work) / "adapter"
        save_adapter(
            result.model,
            adapter,
            build_manifest(
                base_model_fingerprint=model_fingerprint(base),
                schema_id=0,
                schema_version=1,
                dataset_hash=dataset_hash(train),
                config=config,
                copied_fields=copied,
            ),
        )
        train_seconds = result.seconds
        del result.model  # the runtime loads its own copy
        engine = ModelRuntime(model_path=base)
        engine.load()
        shots = [(p.input, p.output) for p in train_real[:3]]
        scores = {}
        eval_start = time.perf_counter()
        for name, mode, adapter_path, examples in (
            ("(a) base few-shot constrained", "constrained", None, shots),
            ("(b) adapter unconstrained", "unconstrained", str(adapter), []),
            ("(c) adapter constrained", "constrained", str(adapter), []),
        ):

            def predict(text: str, mode=mode, adapter_path=adapter_path, examples=examples):
                request = GenerateRequest(
                    schema=schema, input=text, examples=examples, mode=mode, max_tokens=192
                )
                return engine.generate(request, adapter=adapter_path).raw

            scores[name] = evaluate(
                test, predict=predict, schema=schema, concurrency=engine.max_batch_size
            )
        free, constrained = scores["(b) adapter unconstrained"], scores["(c) adapter constrained"]
        answers = dict(zip([p.input for p in test], constrained.predictions, strict=True))
        scores["(d) adapter served (auto)"] = evaluate_served(
            test, free, constrained=answers.__getitem__, schema=schema, copied=copied
        )
        agreement = constrained_agreement(test, free, constrained, schema=schema, copied=copied)
        if dump is not None:
            dump.mkdir(parents=True, exist_ok=True)
            shutil.copytree(adapter, dump / f"{dataset}-adapter", dirs_exist_ok=True)
            (dump / f"{dataset}-losses.json").write_text(json.dumps(result.losses))
            with (dump / f"{dataset}.jsonl").open("w") as out:
                for i, pair in enumerate(test):
                    predictions = {name: s.predictions[i] for name, s in scores.items()}
                    row = {"input": pair.input, "gold": pair.output, **predictions}
                    out.write(json.dumps(row) + "\n")
        eval_seconds = time.perf_counter() - eval_start
        wall = time.perf_counter() - wall
    tokens_per_s = result.tokens / train_seconds
    hf_steps = min(result.step, baseline_steps)
    # The Trainer in fp32 and, where we trained in bf16, in its own bf16: the ratio is
    # against the faster of the two.
    baselines = {
        precision: trainer_baseline(
            base, train, schema=schema, config=config, steps=hf_steps, bf16=precision == "bf16"
        )
        for precision in ["fp32"] + (["bf16"] if result.precision == "bf16" else [])
    }
    hf_rate = max(rate for _, rate in baselines.values())
    steps = f"{result.step} steps"
    if result.converged:
        steps += f" of {result.total_steps} (converged)"
    lines = [
        f"\n{dataset}: {len(train_real)} real + {len(report.accepted)} synthetic pairs, "
        f"{steps}, evaluated on {len(test)} test examples",
        f"{'configuration':32} {'conformance':>11} {'exact':>7} {'field acc':>9}",
    ]
    for name, score in scores.items():
        lines.append(
            f"{name:32} {score.conformance:11.1%} {score.exact_match:7.1%} "
            f"{score.field_accuracy:9.1%}"
        )
    lines.append(f"{'field accuracy per path':32} {'(a)':>7} {'(b)':>7} {'(c)':>7} {'(d)':>7}")
    for path in scores["(c) adapter constrained"].per_path:
        cells = " ".join(f"{score.per_path.get(path, 0.0):7.1%}" for score in scores.values())
        lines.append(f"  {path:30} {cells}")
    ratio = constrained.field_accuracy / free.field_accuracy if free.field_accuracy else 0.0
    lines += [
        f"{'(c) vs (b) field accuracy':32} {ratio:10.2f}x",
        f"{'(c) == (b) where auto keeps (b)':32} {agreement:10.1%}",
        f"{'evaluation (3 configurations)':32} {eval_seconds:10.0f} s",
        f"{'pipeline wall time':32} {wall / 60:10.1f} min",
        f"{'training':32} {train_seconds:10.0f} s  {tokens_per_s:7.1f} tok/s  ({result.precision})",
    ]
    for precision, (hf_seconds, rate) in baselines.items():
        lines.append(
            f"{'HF Trainer + peft (same pairs)':32} {hf_seconds:10.0f} s  {rate:7.1f} tok/s"
            f"  ({hf_steps} steps, {precision})"
        )
    lines.append(f"{'tokens/s ratio vs Trainer':32} {tokens_per_s / hf_rate:10.2f}x  (the faster)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="snips-weather,snips-commands,receipts")
    parser.add_argument(
        "--eval-limit", type=int, default=40, help="test examples scored (0: the whole test set)"
    )
    parser.add_argument(
        "--baseline-steps", type=int, default=12, help="Trainer steps timed (its rate is steady)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="OPTION=JSON",
        help="override a TrainingConfig option, e.g. --set lora_dropout=0 --set max_steps=40",
    )
    parser.add_argument(
        "--dump",
        type=Path,
        help="write each configuration's predictions, the step losses and the adapter here",
    )
    args = parser.parse_args()
    # Train as the worker does: with jemalloc where it is installed (the Trainer baseline
    # runs in this process, so it gets it too).
    from cli.malloc import rerun_with_jemalloc
    from service.config import Settings

    rerun_with_jemalloc(sys.argv, malloc=Settings().malloc)
    preload = os.environ.get("LD_PRELOAD", "")
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    print(
        f"bench/train.py  eval_limit={args.eval_limit}  overrides={overrides}  "
        f"malloc={'jemalloc' if 'jemalloc' in preload else 'glibc'}"
    )
    for dataset in args.datasets.split(","):
        for line in run(
            dataset, args.eval_limit or None, args.baseline_steps, overrides, args.dump
        ):
            print(line)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
