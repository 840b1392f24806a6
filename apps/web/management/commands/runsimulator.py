"""Run the sandbox's simulated traders against the API (docs/sandbox.md).

Set-up (the agents' users, keys and funds) uses the accounts and apikeys
services on this deployment's database, sandbox only; the trading itself goes
through the public API with the Python client, signed and rate-limited like
any bot. ``runexchange`` starts this as a supervised child in the sandbox.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from apps.core.errors import ValidationFailed
from apps.web.simulator.runner import Config, Simulator
from apps.web.simulator.setup import NotSandbox, agents_seed

DEFAULT_PAIRS = "BTC-USD,ETH-USD,ETH-BTC"


def positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Run simulated market makers, a taker and an arbitrageur (sandbox only)."

    def add_arguments(self, parser: CommandParser) -> None:
        sim = settings.SIMULATOR
        parser.add_argument("--url", default=sim["URL"], help="the API's base URL")
        parser.add_argument("--pairs", default=DEFAULT_PAIRS)
        parser.add_argument(
            "--rate",
            type=positive,
            default=sim["RATE"],
            help="orders, amends and cancels per second per pair, all agents together",
        )
        parser.add_argument(
            "--speed",
            type=positive,
            default=1.0,
            help="simulated seconds per wall second (tests run a fast clock)",
        )
        parser.add_argument(
            "--taker-rate",
            type=positive,
            default=sim["TAKER_RATE"],
            help="taker orders per simulated second per pair",
        )
        parser.add_argument("--seed", type=int, default=sim["SEED"])
        parser.add_argument(
            "--allow-ip",
            default=sim["ALLOW_IPS"],
            help="the agents' keys' IP allow-list, addresses or CIDR networks "
            "separated by commas (default loopback; against a remote sandbox "
            "the address its server sees)",
        )
        parser.add_argument(
            "--duration",
            type=positive,
            default=None,
            help="stop after this many seconds of trading (after the opening), "
            "leaving complete ladders",
        )
        parser.add_argument(
            "--settle",
            type=positive,
            default=10.0,
            help="at most this many seconds, after --duration, to complete them",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        pairs = [p.strip() for p in opts["pairs"].split(",") if p.strip()]
        try:
            allow = [p.strip() for p in opts["allow_ip"].split(",") if p.strip()]
            creds = agents_seed(pairs=pairs, ip_allowlist=allow or None)
        except ValidationFailed as exc:
            raise CommandError(f"--allow-ip: {exc.details or exc}") from exc
        except (NotSandbox, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        connections.close_all()  # set-up done: no database from here on
        # One line per request would drown runexchange's output.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        stop = {"now": False}

        def ask_stop(signum: int, frame: Any) -> None:
            stop["now"] = True

        signal.signal(signal.SIGINT, ask_stop)
        signal.signal(signal.SIGTERM, ask_stop)
        cfg = Config(
            url=opts["url"],
            makers={p: creds[f"maker:{p}"] for p in pairs},
            taker=creds["taker"],
            arbitrageur=creds["arbitrageur"],
            rate=opts["rate"],
            speed=opts["speed"],
            taker_rate=opts["taker_rate"],
            seed=opts["seed"],
            duration=opts["duration"],
            settle_s=opts["settle"],
            stopping=lambda: stop["now"],
        )
        self.stdout.write(
            f"simulator: {', '.join(pairs)} at {cfg.rate:g} orders/s per pair "
            f"against {cfg.url}"
        )
        Simulator(cfg).run()
