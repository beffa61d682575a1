"""The server half of the DriveNow contract (extra `[server]`): what makes a Django service answer as the contract
says, so the services cannot drift from it or from each other.

- `errors`: RFC 9457 problem+json for every error (the DRF exception handler, Django's handlers, a lost database).
- `fields`: the field formats (strict strings, integers, UUIDs, date-times, plain text, refused fields).
- `filters`, `pagination`, `parsers`: query filters and ordering, the page shape, JSON-only bodies.
- `request_id`: the `X-Request-ID` header on every answer and log line.
- `health`: `/health/live` and `/health/ready`.
- `auth`: the `Authorization: Token …` scheme the typed client speaks.
- `identity`, `bearer`, `roles`: DJANGO_AUTH_METHODS (token, session, jwt, oidc), the Bearer verifiers and the
  user a verified token becomes, the roles as groups (for a data migration).
- `openapi`: the OpenAPI conventions (every standard answer documented, problem+json media type).
- `admin`: the same field rules in the Django admin.
- `gunicorn_worker`: problem+json for what gunicorn refuses before Django sees it.
"""
