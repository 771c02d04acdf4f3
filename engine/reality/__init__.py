"""ORACLE: what ships and freight prices are actually doing at each chokepoint."""
