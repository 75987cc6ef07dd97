"""User-facing errors: raised for bad input (config values, files, dataset lines).

``prmlab.run`` prints the message alone (no traceback) and exits with code 2, before any cache
entry of the failing stage is written.
"""


class PrmlabError(Exception):
    """A problem with the user's input that a clear message can explain."""


class ConfigError(PrmlabError):
    """A config value that is not valid: ``str(e)`` is one line naming the field (``e.field``), the
    value and what was expected. Raised at compose time, before any stage runs (prmlab.validation)."""

    def __init__(self, field: str, message: str):
        super().__init__(" ".join(message.split()))
        self.field = field
