"""speciarl: teach vision-language models to name what they see as specifically as they can."""

from speciarl.verdict import Verdict

__all__ = ["Verdict"]
__version__ = "0.1.0"
