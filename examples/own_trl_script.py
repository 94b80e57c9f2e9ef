"""Train with TRL's own GRPOTrainer and only the SpeciaRL reward.

    python examples/own_trl_script.py [--model PATH] [--output-dir DIR] [--max-steps N]

Without ``--model`` it builds a tiny random Qwen2.5-VL checkpoint first, so the whole script
runs on a CPU in a minute; with ``--model`` give any Qwen2.5-VL checkpoint (a folder or a Hub
id). The data is speciarl's synthetic benchmark, built into TRL's format: a ``prompt``, an
``image``, and the two columns the reward needs, ``label`` and ``sample_id``.

A stock GRPOTrainer gives an undecided rollout (reward ``None``) reward 0; swap in
``speciarl.MaskedGRPOTrainer`` (same arguments) to leave such rollouts out instead.
"""

import argparse
from pathlib import Path

from transformers import AutoModelForImageTextToText, AutoProcessor
from trl import GRPOConfig, GRPOTrainer

from speciarl import speciarl_reward
from speciarl.data import synthetic
from speciarl.data.build import build_split, load_built
from speciarl.policy.tiny import build_tiny_model
from speciarl.prompts import load_prompt

NUM_GENERATIONS = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a Qwen2.5-VL checkpoint; default: build a tiny one")
    parser.add_argument("--output-dir", default="own-trl-run")
    parser.add_argument("--max-steps", type=int, default=2)
    args = parser.parse_args()
    output = Path(args.output_dir)

    # 1. The model: yours, or a tiny random one for this demonstration.
    model_path = args.model or str(build_tiny_model(output / "tiny-model"))
    model = AutoModelForImageTextToText.from_pretrained(model_path)
    processor = AutoProcessor.from_pretrained(model_path, padding_side="left")

    # 2. The data: 8 synthetic images as rows with prompt, image, label and sample_id.
    samples = synthetic.load_split("train")[:8]
    build_split(samples, output / "data", load_prompt("general"))
    dataset = load_built(output / "data")

    # 3. Only the reward: the synthetic benchmark's label hierarchy, no LLM judge, no cache.
    reward = speciarl_reward("synthetic", num_generations=NUM_GENERATIONS, scheme="speciarl")

    # 4. Stock TRL: two images (two whole groups of 4 rollouts) per step.
    config = GRPOConfig(
        output_dir=str(output / "checkpoints"),
        num_generations=NUM_GENERATIONS,
        per_device_train_batch_size=2 * NUM_GENERATIONS,
        max_completion_length=16,
        max_steps=args.max_steps,
        learning_rate=1e-5,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=config,
        train_dataset=dataset,
        processing_class=processor,
    )
    trainer.train()
    for entry in trainer.state.log_history:
        if "rewards/speciarl/mean" in entry:
            mean = entry["rewards/speciarl/mean"]
            print(f"step {entry['step']}: mean SpeciaRL reward {mean:.3f}")


if __name__ == "__main__":
    main()
