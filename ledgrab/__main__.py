"""`python -m ledgrab` runs the command line."""

from ledgrab.cli import main

raise SystemExit(main())
