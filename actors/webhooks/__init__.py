"""Webhook delivery: signed events, the outbox, the delivery actor and the outbound-URL policy."""
