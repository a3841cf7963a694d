"""Alerts: threshold, change and stock-cover rules evaluated on a schedule, delivered by signed webhooks."""
