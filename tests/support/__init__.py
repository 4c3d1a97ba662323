"""Helpers shared by the tests (never by the benchmarks, which share :mod:`testkit`).

- :mod:`tests.support.browser`: the HTML report in a headless browser;
- :mod:`tests.support.client`: the Mimecast client against scripted transports;
- :mod:`tests.support.config`: configs loaded from text;
- :mod:`tests.support.daemon`: tagger processes against a simulator (re-exports :mod:`testkit`);
- :mod:`tests.support.fuzz`: mutating documents for the property tests;
- :mod:`tests.support.hostile`: a real HTTP server on 127.0.0.1 that a test scripts;
- :mod:`tests.support.rules`: rules and conditions compiled from plain data;
- :mod:`tests.support.state`: state files and processes holding them.
"""
