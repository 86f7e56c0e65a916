"""The assistant: conversations answered from the data (the anomalies issue, seed 001 POST /chat)."""
