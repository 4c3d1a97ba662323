"""Command-line interface: the one composition root of tagger.

:func:`entry` is the ``tagger`` command's entry point: it notes SIGHUP and
SIGTERM (:mod:`tagger.service.earlysignals`) before anything heavy is
imported, then runs :func:`tagger.cli.main.main`.
"""


def entry() -> int:
    """Run the ``tagger`` command; returns its exit status."""
    from tagger.service import earlysignals

    earlysignals.install()
    from tagger.cli.main import main

    return main()
