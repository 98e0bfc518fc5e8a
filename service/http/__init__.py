"""The CDS Hooks service over HTTP: the app factory (`factory.create_app`), the hook,
feedback, health and evidence blueprints, the JSON error handler, JWT checks, the log and
the gunicorn configuration. Importing the package loads none of them."""
