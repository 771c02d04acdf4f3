"""The ops HTTP API: health probes, circuit control, decisions and metrics."""
