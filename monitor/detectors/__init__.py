"""Detectors: river anomaly models wrapped with thresholds and explanations."""

from monitor.detectors.anomaly import AnomalyDetector, explain
from monitor.detectors.verdicts import VerdictLearner

__all__ = ["AnomalyDetector", "VerdictLearner", "explain"]
