"""The gateway's routers, one per resource: faces, health (probes and metrics), page (the
drawing page and what it reads: looks, config)."""
