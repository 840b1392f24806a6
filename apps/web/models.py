"""Account holders' pages and public market pages (next wave)."""
