"""The background worker: runs the pipeline, dispatches alerts and does maintenance."""
