"""OMEN: early signals of disruption from prediction markets and news volume."""
