"""Start the whole exchange on one machine: migrate, seed, serve, match.

Children (daphne, the matcher) run as subprocesses under apps/core/supervise.py:
one that dies is restarted with backoff; Ctrl-C or SIGTERM stops them all.
Production runs the same commands under a process manager instead.

It lives in web, the top layer, because it seeds every app (markets, the demo
account and its API key); the supervisor it uses imports nothing of ours and
stays in core.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.sandbox import demo_account_seed
from apps.core.supervise import Child, GaveUp, Supervisor
from apps.markets.services import markets_seed

DEMO_KEY_LABEL = "sandbox demo"


class Command(BaseCommand):
    help = (
        "Migrate, seed the sandbox markets and demo account, then run daphne, "
        "the matcher and (in the sandbox) the market simulator."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", "8000"))
        )
        parser.add_argument("--no-seed", action="store_true")
        parser.add_argument(
            "--access-log",
            default=str(settings.VAR_DIR / "access.log"),
            help="where daphne logs each request (default: var/access.log; "
            "'-' for this terminal, where the simulator's traffic alone is "
            "some 15 lines a second)",
        )
        parser.add_argument(
            "--no-simulator",
            action="store_true",
            help="do not start the sandbox's simulated traders (also SIMULATOR=0)",
        )

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
        simulate = settings.SIMULATOR["ENABLED"] and not opts["no_simulator"]
        self.run_children(
            opts["host"], opts["port"], simulate=simulate, access_log=opts["access_log"]
        )

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

    def children(
        self, host: str, port: int, simulate: bool, access_log: str
    ) -> list[Child]:
        # daphne is restarted like the matcher: the embedded exchange should
        # stay up on its own, and a crashed server back in half a second loses
        # only its own connections, where stopping everything loses them all
        # and waits for a human. One that cannot start (port taken) dies 5
        # times within some 15 s, and the supervisor gives up naming it.
        python = sys.executable
        # Pings every 5 s, dropped after 5 s without a pong: a vanished peer
        # is a disconnect (and its cancel-on-disconnect) within about 10 s.
        daphne = ["-m", "daphne", "-b", host, "-p", str(port)]
        daphne += ["--ping-interval", "5", "--ping-timeout", "5"]
        daphne += ["--access-log", access_log]
        manage = str(settings.BASE_DIR / "manage.py")
        # The simulated traders (sandbox only: the setting is off in
        # production) are API clients: they wait for daphne to answer, and
        # reconnect when it restarts.
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        simulator = [python, manage, "runsimulator", "--url", f"http://{local}:{port}"]
        return [
            Child("daphne", [python, *daphne, "exchange.asgi:application"]),
            # --wait: a restarted matcher waits for the pairs' lock, should
            # anything still hold it, instead of exiting 3 at once.
            Child("matcher", [python, manage, "runmatcher", "--wait"]),
            *([Child("simulator", simulator)] if simulate else []),
        ]

    def run_children(
        self, host: str, port: int, *, simulate: bool, access_log: str
    ) -> None:
        supervisor = Supervisor(
            self.children(host, port, simulate, access_log),
            log=lambda line: self.stderr.write(f"runexchange: {line}"),
        )
        signal.signal(signal.SIGINT, lambda signum, frame: supervisor.stop())
        signal.signal(signal.SIGTERM, lambda signum, frame: supervisor.stop())
        self.stdout.write(
            f"exchange running on http://{host}:{port} ({settings.EXCHANGE_ENV}); Ctrl-C stops it"
        )
        if access_log != "-":
            self.stdout.write(f"access log: {access_log}")
        try:
            supervisor.run()
        except GaveUp as exc:
            raise CommandError(str(exc)) from exc
