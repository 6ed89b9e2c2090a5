"""Detectors: river anomaly models wrapped with thresholds and explanations."""

from monitor.detectors.anomaly import AnomalyDetector, explain

__all__ = ["AnomalyDetector", "explain"]
