"""The web front end: Danish pages over the services' HTTP APIs (``python -m services.web``)."""
