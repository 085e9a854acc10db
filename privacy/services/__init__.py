"""Writes of the privacy app, by subdomain: a contact's export and erasure (``contacts``),
the workspace's export and self-serve deletion (``workspace``)."""

from .contacts import contact_erase, contact_export_write
from .workspace import (
    DeletionLinkInvalid,
    deletion_link_check,
    workspace_deletion_cancel,
    workspace_deletion_confirm,
    workspace_deletion_request,
    workspace_export_request,
    workspaces_delete_due,
)

__all__ = [
    "DeletionLinkInvalid",
    "contact_erase",
    "contact_export_write",
    "deletion_link_check",
    "workspace_deletion_cancel",
    "workspace_deletion_confirm",
    "workspace_deletion_request",
    "workspace_export_request",
    "workspaces_delete_due",
]
