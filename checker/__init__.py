"""flowcheck: a model checker for cache-flush protocols in the Linux kernel."""

from __future__ import annotations

from checker.check import CheckOptions, CheckResult, check

__all__ = ["CheckOptions", "CheckResult", "check"]
