"""Command line: `pushstack push [--firehose] [--processor]` prints the template.

Compatible with the original `deploy.py push`; every option of the wizard
is a flag too. The crypto key is never taken as a flag (it would land in
shell history and process lists): give it in a file or PUSHSTACK_CRYPTO_KEY.
`pushstack processor-zip` writes the processor Lambda's zip. `pushstack verify
STACK` proves that a launched stack delivers pushes (``pushstack.verify``), and
with --clients/--seconds runs a bounded load probe. Also runs as
`python -m pushstack`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from pushstack import artifacts, cost, render
from pushstack.options import LEGACY, LIST_HINT, RS, SPECS, OptionsError, from_input
from pushstack.template import build_template

CRYPTO_KEY_ENV = "PUSHSTACK_CRYPTO_KEY"


class UsageError(Exception):
    """A bad flag or value: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


EXAMPLES = """\
an example of each command:
  pushstack push --processor --format yaml > push.template.yaml
  pushstack cost --processor --region us-west-2 --connection-instance-type c5.large
  pushstack processor-zip --region us-west-2
  pushstack verify push-test --region eu-west-1

`pushstack push --help` lists every option of the wizard as a flag.
"""


def _stack_options(parser: argparse.ArgumentParser) -> None:
    """The options describing a stack: --firehose, --processor and every option of the wizard."""
    # As with the original deploy.py, the two flags may be given together:
    # the processor implies Firehose (it reads what Firehose writes).
    parser.add_argument(
        "--firehose",
        action="store_true",
        help="send the nodes' logs to S3 through Firehose",
    )
    parser.add_argument(
        "--processor",
        action="store_true",
        help="Firehose plus push processor, Redis and Push Messages API (implies --firehose)",
    )
    for name, spec in SPECS.items():
        if spec.kind == "secret" or name == "log_processing":
            continue  # the key never as a flag; log processing by --firehose / --processor
        if spec.kind == "bool":
            parser.add_argument(spec.cli_flag, dest=name, action="store_true", help=spec.help)
            continue
        help_text = spec.help.replace(LIST_HINT, "Comma-separated.")
        if spec.choices:  # checked by the options layer, like every other value
            help_text += f" One of: {', '.join(spec.choices)}."
        if spec.default is not None:
            help_text += f" Default: {spec.default}."
        if name == "engine":
            help_text += f" With --firehose, --processor or a flag of {LEGACY} only: {LEGACY}."
        if spec.only_for:
            help_text = f"With --{spec.only_for}: {help_text}"
        if spec.only_engine:
            help_text = f"With --engine {spec.only_engine}: {help_text}"
        metavar = {"int": "N", "list": "ID,ID", "choice": "CHOICE"}.get(spec.kind, "VALUE")
        parser.add_argument(spec.cli_flag, dest=name, help=help_text, metavar=metavar)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pushstack",
        description="Write the CloudFormation template of a Mozilla Push (autopush) stack\n"
        "for AWS, and the processor Lambda's zip; prove that a launched stack delivers\n"
        "pushes. The wizard (scripts/serve) does the same in a browser, and launches it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", parser_class=_Parser, title="commands", metavar="COMMAND"
    )
    push = commands.add_parser("push", help="print the Push stack's CloudFormation template")
    _stack_options(push)
    push.add_argument("--format", choices=("json", "yaml"), default="json", help="template format")
    push.add_argument(
        "--parameters-file",
        metavar="PATH",
        type=Path,
        help="also write the parameters file (it holds the crypto key: keep it safe)",
    )
    push.add_argument(
        "--crypto-key-file",
        metavar="PATH",
        type=Path,
        help=f"file holding the crypto key (or set {CRYPTO_KEY_ENV}); generated when absent",
    )
    cost_command = commands.add_parser(
        "cost",
        help="print the monthly cost estimate of the stack `push` would print (same options)",
    )
    _stack_options(cost_command)
    cost_command.add_argument(
        "--format", choices=("text", "json"), default="text", help="a table, or JSON"
    )
    zip_command = commands.add_parser(
        "processor-zip",
        help="write the processor Lambda's zip and say where the stack reads it",
    )
    zip_command.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        help="where to write it (default: its name, push-processor-<hash>.zip, here)",
    )
    zip_command.add_argument(
        "--region",
        choices=SPECS["region"].choices,
        default=SPECS["region"].default,
        metavar="REGION",
        help=f"region of the stack, for the upload command (default {SPECS['region'].default})",
    )
    _verify_parser(commands)
    return parser


def _verify_parser(commands) -> None:
    from pushstack.verify import limits  # the bounds only: the client loads when it runs

    command = commands.add_parser(
        "verify",
        help="send a test push through a launched stack (WebPush round trip), or probe its load",
        description="Send an encrypted push through the stack, as a browser and an application "
        "server would: connect to its WebSocketURL, hello, register, push to the endpoint, "
        "receive, decrypt, ack; then again with the socket closed (stored delivery). Only "
        "the URLs of the stack's own outputs are used, with TLS certificates verified. "
        "With --clients or --seconds: a bounded load probe instead.",
    )
    command.add_argument("stack", metavar="STACK", help="the stack's name")
    command.add_argument(
        "--region",
        choices=SPECS["region"].choices,
        metavar="REGION",
        help="the stack's region (default: AWS_REGION, else us-east-1)",
    )
    command.add_argument(
        "--clients",
        type=int,
        metavar="N",
        help=f"load probe: hold N subscribed connections (1-{limits.MAX_CLIENTS}; default 10)",
    )
    command.add_argument(
        "--seconds",
        type=float,
        metavar="S",
        help=f"load probe: send pushes for S seconds (1-{limits.MAX_SECONDS}; default 10)",
    )
    command.add_argument(
        "--rate",
        type=float,
        metavar="R",
        help=f"load probe: pushes per second (at most {limits.MAX_RATE}; "
        f"default {limits.DEFAULT_RATE}, or N if fewer)",
    )
    command.add_argument(
        "--json", action="store_true", help="print the result as JSON (for scripts)"
    )


def _crypto_key(args: argparse.Namespace) -> str | None:
    if getattr(args, "crypto_key_file", None):  # `cost` takes no key file: it needs no key
        try:
            return args.crypto_key_file.read_text().strip()
        except OSError as exc:
            raise UsageError(
                f"--crypto-key-file: cannot read {args.crypto_key_file}: {exc.strerror}"
            ) from None
    return os.environ.get(CRYPTO_KEY_ENV) or None


def _source(name: str, args: argparse.Namespace) -> str:
    """Where the user gave an option: its flag, or for the key, its file or variable."""
    if name == "crypto_key":
        return "--crypto-key-file" if getattr(args, "crypto_key_file", None) else CRYPTO_KEY_ENV
    if name == "log_processing":  # no flag of its own
        return "--processor" if args.processor else "--firehose"
    return SPECS[name].cli_flag


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it holds the crypto key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: narrow it first
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _log_processing(args: argparse.Namespace) -> str:
    """--processor wins over --firehose, which it includes."""
    if args.processor:
        return "processor"
    return "firehose" if args.firehose else "none"


def _engine(data: dict) -> str | None:
    """The engine asked for; else the one the seed's flags (--firehose, --processor, the
    tables' flags) were made for, so that the original command keeps its meaning."""
    if data.get("engine"):
        return data["engine"]
    legacy_flags = [
        name
        for name, spec in SPECS.items()
        if spec.only_engine == LEGACY and data.get(name) not in (None, False)
    ]
    if data["log_processing"] != "none" or legacy_flags:
        return LEGACY
    return None  # the options' default


def _options(args: argparse.Namespace, *, require_deploy: bool = False):
    data = {name: getattr(args, name) for name in SPECS if hasattr(args, name)}
    data["log_processing"] = _log_processing(args)
    data["engine"] = _engine(data)
    for name, spec in SPECS.items():
        given = data.get(name) not in (None, False)  # an unset switch is False
        if spec.only_for and spec.only_for != data["log_processing"] and given:
            raise UsageError(f"{spec.cli_flag} applies only with --{spec.only_for}")
        if spec.only_engine and given and spec.only_engine != (data["engine"] or RS):
            raise UsageError(f"{spec.cli_flag} applies only with --engine {spec.only_engine}")
    data["crypto_key"] = _crypto_key(args)
    try:
        return from_input(data, require_deploy=require_deploy)
    except OptionsError as exc:
        raise UsageError(" ".join(
            f"{_source(name, args)}: {message}" for name, message in exc.errors.items()
        )) from None  # fmt: skip


def push(args: argparse.Namespace) -> int:
    data = {"crypto_key": _crypto_key(args)}
    # A parameters file is for deploying: it needs the VPC, the subnets...
    options = _options(args, require_deploy=bool(args.parameters_file))
    template = build_template(options)
    if args.parameters_file:
        try:
            _write_private(args.parameters_file, render.parameters_file(options, template))
        except OSError as exc:
            raise UsageError(
                f"--parameters-file: cannot write {args.parameters_file}: {exc.strerror}"
            ) from None
        if not data["crypto_key"]:
            print(
                f"pushstack: generated a new crypto key; it is only in {args.parameters_file}: "
                "keep that file safe, an upgrade needs the same key.",
                file=sys.stderr,
            )
    text = render.render(template, args.format)
    if args.parameters_file:
        template_file = render.template_filename(options, args.format)
        print(deploy_instructions(options, template_file, args, text), file=sys.stderr)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    return 0


def cost_command(args: argparse.Namespace) -> int:
    """Print the monthly cost estimate of the stack these options describe."""
    estimate = cost.for_options(_options(args))
    if args.format == "json":
        text = json.dumps(estimate.as_dict(), indent=2) + "\n"
    else:
        text = cost.table(estimate)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


ACCOUNT = "$ACCOUNT"  # the shell variable the printed commands set
ACCOUNT_COMMAND = "ACCOUNT=$(aws sts get-caller-identity --query Account --output text)"


def _artifacts_bucket(region: str) -> str:
    """The artifacts bucket's name for the shell, the account left to ``$ACCOUNT``."""
    return artifacts.bucket_name(ACCOUNT, region)


def deploy_instructions(options, template_file: str, args, text: str) -> str:
    """What to run with the files: create-stack, through S3 when the template is too large."""
    parameters = str(args.parameters_file)
    lines = []
    if options.processor and not options.processor_code_bucket:
        lines.append(
            "the processor's code is read from pushstack's artifacts bucket: write and "
            "upload it first with `pushstack processor-zip --region "
            f"{options.region}` (it prints the commands)"
        )
    if render.fits_inline(text):
        command = render.create_stack_command(options, template_file, parameters)
        lines.append(f"save the template as {template_file}, then deploy with:\n  {command}")
        return "pushstack: " + "\npushstack: ".join(lines)
    # Larger than CloudFormation takes inline: through the artifacts bucket.
    bucket = _artifacts_bucket(options.region)
    key = artifacts.TEMPLATE_KEY_PREFIX + template_file
    url = artifacts.object_url(bucket, options.region, key)
    command = render.create_stack_command(
        options, template_file, parameters, template_url="TEMPLATE_URL"
    ).replace("TEMPLATE_URL", f'"{url}"')
    lines.append(
        f"save the template as {template_file}: at {len(text.encode()):,} bytes it is larger "
        f"than CloudFormation takes inline ({render.INLINE_TEMPLATE_LIMIT:,}); upload it "
        "and deploy with:\n"
        f"  {ACCOUNT_COMMAND}\n"
        f'  aws s3 mb "s3://{bucket}" --region {options.region}  # once\n'
        f'  aws s3 cp {shlex.quote(template_file)} "s3://{bucket}/{key}"\n'
        f"  {command}"
    )
    return "pushstack: " + "\npushstack: ".join(lines)


def processor_zip(args: argparse.Namespace) -> int:
    """Write the processor's zip; say where the template's defaults read it from."""
    from pushstack import processor_zip as package  # builds the zip: only for this command

    try:
        key = package.zip_key()
        output = args.output or Path(key.rsplit("/", 1)[-1])
        package.write_zip(output)
    except package.ProcessorZipError as exc:
        raise UsageError(f"processor-zip: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--output: cannot write {args.output}: {exc.strerror}") from None
    bucket = _artifacts_bucket(args.region)
    print(
        f"pushstack: wrote {output}; the stack reads it from its artifacts bucket as {key}"
        " (the ProcessorCodeBucket and ProcessorCodeKey defaults). Upload it with:\n"
        f"  {ACCOUNT_COMMAND}\n"
        f'  aws s3 mb "s3://{bucket}" --region {args.region}  # once\n'
        f'  aws s3 cp {shlex.quote(str(output))} "s3://{bucket}/{key}"',
        file=sys.stderr,
    )
    print(output)
    return 0


SANDBOX_CANNOT_VERIFY = (
    "the sandbox runs no push servers (its stacks start no nodes), so there is nothing to "
    "send a push to. Verify a stack launched into AWS (PUSHSTACK_TARGET=aws, with your "
    "credentials)."
)


NO_CREDENTIALS = "no AWS credentials were found, so the target is the sandbox; "


def _stack_outputs(name: str, region: str | None) -> dict[str, str]:
    """The stack's outputs, read through pushstack.cloud from the live target."""
    from pushstack.cloud import Cloud, CloudError, resolve_target
    from pushstack.cloud.target import chosen_kind

    try:
        if chosen_kind() == "sandbox":  # checked before a sandbox would be started for nothing
            chosen = "" if os.environ.get("PUSHSTACK_TARGET") else NO_CREDENTIALS
            raise UsageError(chosen + SANDBOX_CANNOT_VERIFY)
        return Cloud(resolve_target(region=region), region).stack_outputs(name)
    except CloudError as exc:
        raise VerifyError(f"{exc.message} {exc.advice}".strip()) from None


class VerifyError(Exception):
    """The stack could not be verified (AWS said no, or its outputs name no push service)."""


def verify(args: argparse.Namespace, read_outputs=_stack_outputs, **client_options) -> int:
    """Exit status 0 when the round trip (or probe) passed, 1 when it did not.

    ``read_outputs(name, region)`` gives the stack's outputs; tests hand in a stand-in's
    (there is no flag for a URL: only a stack's own outputs are ever verified).
    ``client_options`` go to the client (tests: ``ca_file``, ``timeouts``).
    """
    from pushstack.verify import limits, roundtrip
    from pushstack.verify import probe as probes
    from pushstack.verify import targets as urls

    probing = args.clients is not None or args.seconds is not None or args.rate is not None
    clients = 10 if args.clients is None else args.clients
    seconds = 10.0 if args.seconds is None else args.seconds
    if probing:
        try:
            limits.check_limits(clients, seconds, args.rate)
        except limits.ProbeLimitError as exc:
            raise UsageError(str(exc)) from None
    try:
        targets = urls.from_outputs(read_outputs(args.stack, args.region))
    except (VerifyError, urls.TargetError) as exc:
        print(f"pushstack: verify {args.stack}: {exc}", file=sys.stderr)
        return 1
    if not probing:
        report = roundtrip.run_round_trip(targets, **client_options)
        print(json.dumps(report.as_dict(), indent=2) if args.json else "\n".join(report.lines()))
        return 0 if report.ok else 1
    bar = _ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    result = probes.run_probe(
        targets,
        clients=clients,
        seconds=seconds,
        rate=args.rate,
        progress=bar.update if bar else None,
        **client_options,
    )
    if bar:
        bar.finish()
    if args.json:
        figures = {"websocket_url": targets.websocket_url, "endpoint_url": targets.endpoint_url}
        print(json.dumps({**figures, **result.as_dict()}, indent=2))
    else:
        print(f"Against {targets.websocket_url} and {targets.endpoint_url}")
        print("\n".join(result.lines()))
    return 0 if result.ok else 1


class _ProgressBar:
    """One line on a terminal, rewritten in place: elapsed of total, pushes delivered."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream

    def update(self, elapsed: float, result) -> None:
        done = int(self.WIDTH * elapsed / result.seconds) if result.seconds else self.WIDTH
        bar = "#" * done + "-" * (self.WIDTH - done)
        self.stream.write(
            f"\r[{bar}] {elapsed:5.1f}/{result.seconds:g} s  held {result.held}/"
            f"{result.clients}  sent {result.sent}  delivered {result.delivered}"
        )
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:  # a bare `pushstack`: say what it does
            parser.print_help()
            return 0
        if args.command == "processor-zip":
            return processor_zip(args)
        if args.command == "verify":
            return verify(args)
        if args.command == "cost":
            return cost_command(args)
        return push(args)
    except UsageError as exc:
        print(f"pushstack: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (e.g. head) went away: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
