"""Start the whole exchange on one machine: migrate, seed, serve, match.

Children (daphne, the matcher) run as subprocesses; Ctrl-C or SIGTERM stops
them all. Production runs the same commands under a process manager instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from apps.accounts.services import demo_account_seed
from apps.markets.services import markets_seed

DEMO_KEY_LABEL = "sandbox demo"


class Command(BaseCommand):
    help = "Migrate, seed the sandbox markets and demo account, then run daphne and the matcher."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", "8000"))
        )
        parser.add_argument("--no-seed", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        if not opts["no_seed"]:
            pairs = markets_seed()
            demo = demo_account_seed()
            self.stdout.write(
                f"markets: {', '.join(p.symbol for p in pairs)}; demo user: {demo.get_username()}"
            )
            for line in self.demo_key_lines(demo):
                self.stdout.write(line)
        self.run_children(opts["host"], opts["port"])

    def demo_key_lines(self, demo: Any) -> list[str]:
        """The sandbox demo account's trading key, created once and shown on
        every start (sandbox only: a production secret is shown only once)."""
        if settings.EXCHANGE_ENV != "sandbox":
            return []
        from apps.apikeys.crypto import decrypt_secret
        from apps.apikeys.models import ApiKey
        from apps.apikeys.services import apikey_create

        key = ApiKey.objects.filter(
            user=demo, label=DEMO_KEY_LABEL, revoked_at__isnull=True
        ).first()
        if key is None:
            key, secret = apikey_create(
                user=demo,
                scope="trade",
                label=DEMO_KEY_LABEL,
                ip_allowlist=["127.0.0.1/32", "::1/128"],
            )
        else:
            secret = decrypt_secret(key.secret_encrypted)
        return [
            "demo API key (sandbox; trade scope; from 127.0.0.1 and ::1 only):",
            f"  export HKT_KEY={key.key}",
            f"  export HKT_SECRET={secret}",
        ]

    def children(self, host: str, port: int) -> list[list[str]]:
        python = sys.executable
        return [
            [
                python,
                "-m",
                "daphne",
                "-b",
                host,
                "-p",
                str(port),
                "exchange.asgi:application",
            ],
            [python, str(settings.BASE_DIR / "manage.py"), "runmatcher", "--wait"],
        ]

    def run_children(self, host: str, port: int) -> None:
        procs = [subprocess.Popen(cmd) for cmd in self.children(host, port)]
        self.stdout.write(
            f"exchange running on http://{host}:{port} ({settings.EXCHANGE_ENV}); Ctrl-C stops it"
        )
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(p.poll() is None for p in procs):
                time.sleep(0.2)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for p in procs:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
        failed = [
            p.args for p in procs if p.returncode not in (0, -signal.SIGTERM, None)
        ]
        if failed and not stopping:
            self.stderr.write(f"a process stopped unexpectedly: {failed}")
            sys.exit(1)
