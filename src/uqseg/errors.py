"""uqseg's own error types. The CLI prints their message on one line and exits non-zero."""


class UqsegError(Exception):
    """Base class of every error uqseg raises on purpose."""


class InputError(UqsegError, ValueError):
    """Invalid input data: a missing or corrupt file, a wrong shape, dtype or value range."""


class ConfigError(UqsegError, ValueError):
    """An invalid preset, override, combination or dataset name."""


class NumericalError(UqsegError, ArithmeticError):
    """A NaN or inf in a loss, a prediction or a map."""


class LockedError(UqsegError):
    """The run directory is in use by another uqseg process."""
