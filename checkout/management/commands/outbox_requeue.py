"""`python manage.py outbox_requeue [ID ...] | --all`: give dead letters another round."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from checkout.outbox import outbox_dead_letters, outbox_requeue


class Command(BaseCommand):
    help = (
        "List dead-lettered outbox messages, or requeue them (by id, or --all) with a fresh "
        "set of attempts; the outbox sweep delivers them on its next run."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="message ids to requeue")
        parser.add_argument("--all", action="store_true", help="requeue every dead letter")

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[int] = options["ids"]
        if ids and options["all"]:
            raise CommandError("give message ids or --all, not both")
        if not ids and not options["all"]:
            for message in outbox_dead_letters():
                self.stdout.write(
                    f"{message.pk:>8}  {message.dedupe_key}  {message.attempts} attempts, "
                    f"dead since {message.dead_at:%Y-%m-%d %H:%M:%S}: {message.last_error}"
                )
            return
        requeued = outbox_requeue(message_ids=None if options["all"] else ids)
        if ids and requeued < len(set(ids)):
            self.stdout.write(self.style.WARNING("some ids are not dead-lettered messages"))
        self.stdout.write(self.style.SUCCESS(f"requeued {requeued} message(s)"))
