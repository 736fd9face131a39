"""The command line, ``python -m lab <command>``: one short module per command.

    parse → one call into the flow → a view → an exit code

``main`` is the trunk (the group, lazy loading, one-sentence errors, exit
codes); each command module parses its options, calls one function of the flow
and renders its result with ``lab.views``.  Nothing below the CLI imports it.
"""
