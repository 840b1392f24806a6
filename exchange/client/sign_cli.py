"""``hkt_sign METHOD PATH BODY TIMESTAMP NONCE``: print a request's signature.

The key and secret come from the environment (``HKT_KEY``, ``HKT_SECRET``) so the
secret never lands in shell history. PATH may include ``?query``; BODY is the
exact body text (``""`` for none). Example::

    export HKT_KEY=hkt_... HKT_SECRET=...
    hkt_sign POST /v1/orders "$BODY" 1714521600000 7f3a1b8e
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from exchange.client.signing import NONCE_RE, prehash, sign


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hkt_sign",
        description="Print the X-Api-Signature of a request (key and secret from "
        "HKT_KEY and HKT_SECRET).",
    )
    parser.add_argument("method", help="HTTP method, e.g. GET or POST")
    parser.add_argument("path", help="path plus ?query exactly as sent")
    parser.add_argument("body", help='raw body text, "" for none')
    parser.add_argument("timestamp", help="X-Api-Timestamp, Unix milliseconds")
    parser.add_argument("nonce", help="X-Api-Nonce, 8-64 of [A-Za-z0-9_-]")
    parser.add_argument(
        "--show-prehash", action="store_true", help="also print the prehash to stderr"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    key = os.environ.get("HKT_KEY", "")
    secret = os.environ.get("HKT_SECRET", "")
    if not key or not secret:
        print(
            "hkt_sign: set HKT_KEY and HKT_SECRET in the environment", file=sys.stderr
        )
        return 2
    if not args.timestamp.isascii() or not args.timestamp.isdigit():
        print("hkt_sign: TIMESTAMP must be Unix milliseconds (digits)", file=sys.stderr)
        return 2
    if not NONCE_RE.match(args.nonce):
        print(
            "hkt_sign: NONCE must be 8-64 characters of [A-Za-z0-9_-]", file=sys.stderr
        )
        return 2
    message = prehash(
        timestamp=args.timestamp,
        nonce=args.nonce,
        key=key,
        method=args.method,
        path=args.path,
        body=args.body.encode("utf-8"),
    )
    if args.show_prehash:
        print(message, file=sys.stderr)
    print(sign(secret, message))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
