"""Allow ``python -m tagger``."""

from tagger.cli.main import main

raise SystemExit(main())
