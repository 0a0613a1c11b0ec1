"""`python -m web.cli`: the same as the `chonai` command."""

from web.cli import main

raise SystemExit(main())
