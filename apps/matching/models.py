"""The matcher keeps its state in the orders and markets tables; no models here."""
