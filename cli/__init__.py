"""The `assoc` command line: thin commands over the library."""
