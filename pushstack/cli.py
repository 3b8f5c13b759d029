"""Command line: `pushstack push [--firehose] [--processor]` prints the template.

Compatible with the original `deploy.py push`; every option of the wizard
is a flag too. The crypto key is never taken as a flag (it would land in
shell history and process lists): give it in a file or PUSHSTACK_CRYPTO_KEY.
`pushstack processor-zip` writes the processor Lambda's zip. Also runs as
`python -m pushstack`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from pushstack import artifacts, render
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
  pushstack processor-zip --region us-west-2

`pushstack push --help` lists every option of the wizard as a flag.
"""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pushstack",
        description="Write the CloudFormation template of a Mozilla Push (autopush) stack\n"
        "for AWS, and the processor Lambda's zip. The wizard (scripts/serve) does\n"
        "the same in a browser, and launches it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", parser_class=_Parser, title="commands", metavar="COMMAND"
    )
    push = commands.add_parser("push", help="print the Push stack's CloudFormation template")
    # As with the original deploy.py, the two flags may be given together:
    # the processor implies Firehose (it reads what Firehose writes).
    push.add_argument(
        "--firehose",
        action="store_true",
        help="send the nodes' logs to S3 through Firehose",
    )
    push.add_argument(
        "--processor",
        action="store_true",
        help="Firehose plus push processor, Redis and Push Messages API (implies --firehose)",
    )
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
    for name, spec in SPECS.items():
        if spec.kind == "secret" or name == "log_processing":
            continue  # the key never as a flag; log processing by --firehose / --processor
        if spec.kind == "bool":
            push.add_argument(spec.cli_flag, dest=name, action="store_true", help=spec.help)
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
        push.add_argument(spec.cli_flag, dest=name, help=help_text, metavar=metavar)
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
    return parser


def _crypto_key(args: argparse.Namespace) -> str | None:
    if args.crypto_key_file:
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
        return "--crypto-key-file" if args.crypto_key_file else CRYPTO_KEY_ENV
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


def push(args: argparse.Namespace) -> int:
    data = {name: getattr(args, name) for name in SPECS if hasattr(args, name)}
    data["log_processing"] = _log_processing(args)
    data["engine"] = _engine(data)
    for name, spec in SPECS.items():
        if spec.only_for and spec.only_for != data["log_processing"] and data.get(name) is not None:
            raise UsageError(f"{spec.cli_flag} applies only with --{spec.only_for}")
        given = data.get(name) not in (None, False)
        if spec.only_engine and given and spec.only_engine != (data["engine"] or RS):
            raise UsageError(f"{spec.cli_flag} applies only with --engine {spec.only_engine}")
    data["crypto_key"] = _crypto_key(args)
    try:
        # A parameters file is for deploying: it needs the VPC, the subnets...
        options = from_input(data, require_deploy=bool(args.parameters_file))
    except OptionsError as exc:
        raise UsageError(" ".join(
            f"{_source(name, args)}: {message}" for name, message in exc.errors.items()
        )) from None  # fmt: skip
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


def main(argv: list[str] | None = None) -> int:
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:  # a bare `pushstack`: say what it does
            parser.print_help()
            return 0
        if args.command == "processor-zip":
            return processor_zip(args)
        return push(args)
    except UsageError as exc:
        print(f"pushstack: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (e.g. head) went away: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
