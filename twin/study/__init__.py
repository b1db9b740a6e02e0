"""Expansion studies: where and how much storage to add, what it earns, what the feeders take."""
