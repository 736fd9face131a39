"""Driving a run: chords sent, faults fired and healed.

    scenario → runtime up → **chords sent** → observations → verdict → record

``send`` (chords sent, each with its oracle) and ``nemesis`` (faults injected
through the system's capabilities, then healed).
"""
