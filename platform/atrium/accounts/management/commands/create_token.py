"""python manage.py create_token USERNAME --name NAME: an API token for scripts and the CLI."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from atrium.accounts.models import User
from atrium.accounts.tokens import create_token


class Command(BaseCommand):
    help = "Create an API token for a user and print its key (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        token, key = create_token(user=user, name=options["name"])
        self.stdout.write(key)
        self.stderr.write(
            f"token {token.prefix}… for {user.username}; use it as 'Authorization: Token <key>'"
        )
