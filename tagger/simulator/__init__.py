"""An embedded Mimecast simulator: a real HTTP server on 127.0.0.1.

It speaks the API tagger uses (OAuth 2.0 and HMAC 1.0 authentication,
message-finder search and get-message-info, Smart Tags list/apply/search),
holds a deterministic synthetic mailbox, and simulates rate limits, latency,
result caps, late indexing and faults. The demo, the tests and the
benchmarks run against it; users can try rules on it safely::

    from tagger.simulator import Simulator, SimulatorConfig

    with Simulator(SimulatorConfig(seed=7, messages=300)) as sim:
        print(sim.url)

Module map: ``config`` (options), ``credentials`` (demo credentials),
``synth``/``vocab``/``records`` (synthetic messages), ``mailbox`` (storage,
search, tags), ``search`` (criteria), ``render`` (JSON shapes), ``auth``,
``ratelimit``, ``faults``, ``stats``, ``endpoints`` (API logic),
``transport`` (HTTP), ``server`` (:class:`Simulator`).
"""

from tagger.simulator.config import FaultConfig, SimPaths, SimulatorConfig
from tagger.simulator.credentials import DEMO, Credentials
from tagger.simulator.records import SimMessage
from tagger.simulator.server import Simulator

__all__ = [
    "DEMO",
    "Credentials",
    "FaultConfig",
    "SimMessage",
    "SimPaths",
    "Simulator",
    "SimulatorConfig",
]
