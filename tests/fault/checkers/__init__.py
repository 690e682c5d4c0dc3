"""Checkers for the fault-injection harness's histories (see README.md)."""
