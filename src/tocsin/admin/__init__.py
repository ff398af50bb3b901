"""The operator page (DESIGN §9): ``/admin``, signed in with the admin key."""

from tocsin.admin.routes import mount_admin

__all__ = ["mount_admin"]
