"""The origin case's package layout (see apps/origin/tasks/execution/results.py)."""
