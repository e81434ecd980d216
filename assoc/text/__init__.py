"""The text signal: normalisation, query understanding, documents for the text indexes, semantic model."""
