"""Detection: rules, the engine, entropy, decoders and allow rules."""

from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.rules import Rule, load_rules

__all__ = ["Engine", "EngineOptions", "Rule", "load_rules"]
