"""Senders: turn an outbox delivery into one call to a channel. No business rules here."""
