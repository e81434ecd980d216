"""assoc: link short video clips to the long-form programs they were cut from."""

__version__ = "0.1.0"
