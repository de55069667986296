"""Workflows, their steps, runs and step runs; field mapping, the engine and its tasks."""
