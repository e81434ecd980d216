"""Candidate features, the learned re-ranker, calibration and the open-set threshold."""
