"""The admin of this service: Django's, on the site of config.admin (the fleet's planning board among its pages)."""

from django.contrib.admin.apps import AdminConfig


class InventoryAdminConfig(AdminConfig):
    default_site = "config.admin.InventoryAdminSite"
