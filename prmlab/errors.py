"""User-facing errors: raised for bad input (config values, files, dataset lines).

``prmlab.run`` prints the message alone (no traceback) and exits with code 2, before any cache
entry of the failing stage is written.
"""


class PrmlabError(Exception):
    """A problem with the user's input that a clear message can explain."""
