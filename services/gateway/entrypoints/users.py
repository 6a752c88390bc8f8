"""Add (or reset) a staff user of the web app:

    python -m services.gateway.entrypoints.users --shop northwind-hvac --email ana@example.com \\
        --name "Ana (office)" --role office

The password is read from GATEWAY_NEW_PASSWORD, else asked for (never an argument: it would stay
in the shell's history)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from services.gateway import bootstrap
from services.gateway.domain.access import ROLES
from services.gateway.service_layer import auth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", required=True, choices=ROLES)
    args = parser.parse_args(argv)
    password = os.environ.get("GATEWAY_NEW_PASSWORD") or getpass.getpass("Password: ")
    try:
        user = auth.add_user(
            args.shop,
            args.email,
            args.name,
            args.role,
            password,
            bootstrap.users(),
            bootstrap.passwords(),
        )
    except auth.WeakPassword as exc:
        print(f"password {exc}", file=sys.stderr)
        return 2
    print(f"{user.email} can sign in to {user.shop_id} as {user.role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
