"""Prove that a stack delivers pushes: the WebPush round trip and the load probe.

Interface (the command line and the wizard use only this)::

    from pushstack import verify

    targets = verify.from_outputs(stack.output_values)   # WebSocketURL, EndpointURL;
                                                          # TargetError when missing
    report = verify.run_round_trip(targets)               # -> Report (steps, ok, lines(),
                                                          #    as_dict()); never raises for
                                                          #    what the service answers
    result = verify.run_probe(targets, clients=N, seconds=S, progress=callback)
                                                          # -> ProbeResult; ProbeLimitError
                                                          #    for N/S/rate out of bounds

It only ever talks to the URLs of the stack's outputs (and to a push endpoint
the server hands out only when it lies under ``EndpointURL``), with TLS
certificates verified. ``ca_file=`` adds a certificate authority (tests).
"""

from pushstack.verify.probe import ProbeLimitError, ProbeResult, check_limits, run_probe
from pushstack.verify.report import Report, Step, from_dict
from pushstack.verify.roundtrip import Timeouts, run_round_trip
from pushstack.verify.targets import PushTargets, TargetError, from_outputs

__all__ = [
    "ProbeLimitError",
    "ProbeResult",
    "PushTargets",
    "Report",
    "Step",
    "TargetError",
    "Timeouts",
    "check_limits",
    "from_dict",
    "from_outputs",
    "run_probe",
    "run_round_trip",
]
