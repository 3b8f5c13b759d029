"""Command line: `python -m pushstack push [--firehose | --processor]` prints the template.

Compatible with the original `deploy.py push`; every option of the wizard
is a flag too. The crypto key is never taken as a flag (it would land in
shell history and process lists): give it in a file or PUSHSTACK_CRYPTO_KEY.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pushstack import render
from pushstack.options import SPECS, OptionsError, from_input
from pushstack.template import build_template

CRYPTO_KEY_ENV = "PUSHSTACK_CRYPTO_KEY"


class UsageError(Exception):
    """A bad flag or value: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pushstack", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    push = commands.add_parser("push", help="print the Push stack's CloudFormation template")
    logs = push.add_mutually_exclusive_group()
    logs.add_argument(
        "--firehose",
        dest="log_processing",
        action="store_const",
        const="firehose",
        help="send the nodes' logs to S3 through Firehose",
    )
    logs.add_argument(
        "--processor",
        dest="log_processing",
        action="store_const",
        const="processor",
        help="Firehose plus push processor, Redis and Push Messages API",
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
        help_text = spec.help
        if spec.choices:  # checked by the options layer, like every other value
            help_text += f" One of: {', '.join(spec.choices)}."
        if spec.default is not None:
            help_text += f" Default: {spec.default}."
        if spec.only_for:
            help_text = f"With --{spec.only_for}: {help_text}"
        metavar = {"int": "N", "list": "ID,ID", "choice": "CHOICE"}.get(spec.kind, "VALUE")
        push.add_argument(spec.cli_flag, dest=name, help=help_text, metavar=metavar)
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
    return SPECS[name].cli_flag


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it holds the crypto key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: narrow it first
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def push(args: argparse.Namespace) -> int:
    data = {name: getattr(args, name) for name in SPECS if hasattr(args, name)}
    data["log_processing"] = args.log_processing or "none"
    for name, spec in SPECS.items():
        if spec.only_for and spec.only_for != data["log_processing"] and data.get(name) is not None:
            raise UsageError(f"{spec.cli_flag} applies only with --{spec.only_for}")
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
        template_file = render.template_filename(options, args.format)
        command = render.create_stack_command(options, template_file, str(args.parameters_file))
        print(
            f"pushstack: save the template as {template_file}, then deploy with:\n  {command}",
            file=sys.stderr,
        )
    text = render.render(template, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return push(args)
    except UsageError as exc:
        print(f"pushstack: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (e.g. head) went away: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
