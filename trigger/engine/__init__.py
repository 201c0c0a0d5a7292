"""The engine: one batch in -> decisions, kept rows, counts out (pure, no I/O)."""

from trigger.engine.engine import CompiledMenuLike, Engine, Scorer
from trigger.engine.outcome import BatchOutcome

__all__ = ["BatchOutcome", "CompiledMenuLike", "Engine", "Scorer"]
