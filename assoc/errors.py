"""The exceptions of the `assoc` package. The CLI and the service convert them at the boundary."""


class AssocError(Exception):
    """Base class of every error raised by the assoc package."""


class InputError(AssocError):
    """Input data (a catalog, a queries file, a taxonomy, an argument) is invalid."""


class TaxonomyError(InputError):
    """The taxonomy file is malformed or a category path is not in it."""


class MediaError(AssocError):
    """A media file cannot be decoded; the message names the file and the reason."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):  # rebuilt from (path, reason) when it crosses a process boundary (a worker's lookup)
        return (type(self), (self.path, self.reason))


class ModelError(AssocError):
    """A saved model directory is missing, corrupt or incompatible."""


class IndexMismatchError(AssocError):
    """An index directory does not match its manifest or the encoder it is used with."""
