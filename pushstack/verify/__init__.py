"""Prove that a stack delivers pushes: the WebPush round trip and the load probe.

Interface (the command line and the wizard use only this; import the modules you
need, so that the command line's other commands never load the client)::

    from pushstack.verify import limits, probe, report, roundtrip, targets

    push = targets.from_outputs(stack_outputs)        # WebSocketURL, EndpointURL ->
                                                      # PushTargets; TargetError if missing
    result = roundtrip.run_round_trip(push)           # -> report.Report (steps, ok, lines(),
                                                      #    as_dict()); what the service
                                                      #    answers never raises
    report.from_dict(result.as_dict())                # a kept report, back
    limits.check_limits(clients, seconds, rate)       # ProbeLimitError out of bounds
    probe.run_probe(push, clients=N, seconds=S,       # -> probe.ProbeResult (held,
                    rate=None, progress=callback)     #    delivered, lost, p50/p95/p99)

It only ever talks to the URLs of the stack's outputs (and to a push endpoint the
server hands out only when it lies under ``EndpointURL``), with TLS certificates
verified. Both take ``timeouts=roundtrip.Timeouts(...)`` and ``ca_file=`` (an extra
certificate authority, for tests).
"""
