"""ALERTER: the outbox of WhatsApp messages and its dispatchers."""
