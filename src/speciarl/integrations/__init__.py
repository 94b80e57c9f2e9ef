"""Glue between SpeciaRL's judge and reward and third-party RL trainers.

:mod:`speciarl.integrations.verl` adapts :func:`speciarl.rollouts.score_rollouts` to verl's
reward hooks and imports nothing from verl, so it can be tested, and imported by path, without
verl installed. :mod:`speciarl.integrations.verl_estimator` is the one module that imports verl:
it registers the SpeciaRL advantage estimator for verl 0.9 and later. ``docs/verl.md`` says
which verl versions use which path and with which configuration keys.
"""
