"""The lookup service (`assoc serve`): FastAPI over one Associator, swappable without dropping requests."""
