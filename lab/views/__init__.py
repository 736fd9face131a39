"""Views: what a person sees; they read models, never runtimes.

``console`` (verdict tables, proof, progress; the one ``VERDICT_STYLE`` and the
exit codes, once) and ``timeline`` (a run drawn for teaching: terminal and SVG).
"""
