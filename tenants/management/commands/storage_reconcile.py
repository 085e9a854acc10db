"""``manage.py storage_reconcile [--dry-run]``: remove the stored files no row points to
(tenants.services.storage_reconcile), or with ``--dry-run`` only list them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants.services.storage_reconcile import storage_reconcile


class Command(BaseCommand):
    help = "Remove stored files that no row points to (per workspace prefix); --dry-run only lists them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be removed; remove nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        report = storage_reconcile(dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        for name in report.orphan_names:
            self.stdout.write(f"{verb} {name}")
        counts = " ".join(f"{key}={value}" for key, value in report.as_counts().items())
        self.stdout.write(counts)
