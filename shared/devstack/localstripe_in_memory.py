"""localstripe with its store kept in memory only (`python -m shared.devstack.localstripe_in_memory
--port N --from-scratch`, its own process like the plain command).

localstripe pickles its whole store to /tmp/localstripe.pickle on every write, twice: the cost
of a request grows with everything created before it (a 10,000-job chaos run fell from 10 to 0.7
jobs/s as localstripe took a core), and every instance on the machine overwrites the same file.
Our runs always start from scratch and never read it back, so the write is turned off."""

from __future__ import annotations

from localstripe import resources, server  # type: ignore[import-untyped]


def keep_in_memory() -> None:
    resources.Store.dump_to_disk = lambda self: None


def main() -> None:
    keep_in_memory()
    server.start()


if __name__ == "__main__":
    main()
