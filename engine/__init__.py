"""RISKCAST domain: signals, reality, decisions and alerts for shipping disruptions."""
