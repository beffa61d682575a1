"""Lists page with ?limit=&offset= (API.md); the limit is capped so no client can ask for the whole fleet."""
from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 20
    max_limit = 200
