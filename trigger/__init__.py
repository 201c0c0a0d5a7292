"""trigger: a near-real-time trigger filter farm for particle detectors.

Layers (imports point down only): cli -> runtime -> engine -> menu -> features
-> inference -> io -> schema. See the README's architecture section.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
