"""The exceptions of the `indexes` package."""


class IndexBackendError(Exception):
    """Base class of every error raised by the indexes package."""


class UnknownBackendError(IndexBackendError):
    """A backend name is not in the registry; the message lists the known names."""


class IndexCorruptError(IndexBackendError):
    """Index files are missing, unreadable or do not match the manifest."""


class DeviceUnavailableError(IndexBackendError):
    """A GPU index was asked for, but FAISS has no GPU support or sees no CUDA device here."""
