"""The package's exceptions: each carries a one-line message that names the file or parameter at fault."""


class F1BrainsError(Exception):
    """Base class: an error a user can act on, reported as one line."""


class ConfigError(F1BrainsError):
    """A brain YAML, model card or parameter is missing, malformed or inconsistent."""


class ModelLoadError(F1BrainsError):
    """A model artifact is missing, corrupt, or does not match its card."""


class BackendUnavailable(F1BrainsError):
    """The backend or the requested device cannot run on this machine (the message says why)."""


class BadImage(F1BrainsError):
    """A camera image has an unsupported encoding or a size the model card does not accept."""


class BadOutput(F1BrainsError):
    """The network produced NaN/inf or an output of the wrong shape."""
