"""Per-account features by event time: state, extraction and the typed name table."""

from monitor.features.extract import extract
from monitor.features.state import AccountState
from monitor.features.table import FEATURES, FeatureSpec

__all__ = ["FEATURES", "AccountState", "FeatureSpec", "extract"]
