"""Training with TRL: recipes, the SpeciaRL reward function, GRPO and SFT."""
