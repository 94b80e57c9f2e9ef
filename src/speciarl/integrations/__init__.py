"""Glue between SpeciaRL's judge and reward and third-party RL trainers.

Each module here adapts :func:`speciarl.rollouts.score_rollouts` to one trainer's hook and imports
nothing from that trainer, so it can be tested, and imported by path, without the trainer
installed. :mod:`speciarl.integrations.verl` serves verl (volcengine/verl); ``docs/verl.md``
says which verl versions can use the group reward and with which configuration keys.
"""
