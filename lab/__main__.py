"""``python -m lab``: the stop signals are caught first, then the CLI (``lab.cli``) runs.

    **python -m lab** → cli → scenario → topology up → chords sent → ... → record

SIGTERM, SIGHUP and Ctrl-C are handled before the CLI's imports begin, so a stop
that lands while Celery's modules are imported or an app is built waits for a
safe point (``lab.runtime.process.processes.install_signal_handlers``) and ends in one sentence,
never a traceback; every process the lab started is stopped on the way out.
"""

import sys

from lab.runtime.process.processes import Stopped, ignore_stop_signals, install_signal_handlers

install_signal_handlers()
try:
    from lab.cli.main import entry

    entry()
except Stopped as e:
    print(f"lab: stopped by {e.signal_name}; every process it started has been stopped.", file=sys.stderr, flush=True)
    raise SystemExit(e.code) from None
except KeyboardInterrupt:  # Ctrl-C before the CLI's own handler was reached (its imports)
    print("lab: interrupted; every process it started has been stopped.", file=sys.stderr, flush=True)
    raise SystemExit(130) from None
finally:
    ignore_stop_signals()  # exiting anyway: a stop now, in atexit or a finalizer, would only print a traceback
