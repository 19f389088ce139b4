"""Segments: the rule language, membership and qualification."""

from launchpoint.segments.compiler import CompiledRule, RuleSchema, compile_rule
from launchpoint.segments.qualification import QualificationRow, qualify

__all__ = ["CompiledRule", "QualificationRow", "RuleSchema", "compile_rule", "qualify"]
