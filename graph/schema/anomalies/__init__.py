"""AnomalyRule, Anomaly and the anomalyDetected subscription (the anomalies issue)."""
