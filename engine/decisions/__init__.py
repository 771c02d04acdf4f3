"""RISKCAST: per-customer decisions with exposure, action, deadline and confidence."""
