"""The forms of the stack pages: launch, update, delete and recovery (CSRF on each)."""

from __future__ import annotations

import dataclasses

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from pushstack.options import OptionsError, from_input
from webapp.forms import OptionsForm

ACKNOWLEDGE_MESSAGE = "Tick this box to confirm you have read what the stack creates and keeps."
UPDATE_ACKNOWLEDGE_MESSAGE = (
    "Tick this box to confirm that the update may replace nodes and change IAM roles; "
    "the changes are shown before anything is applied."
)


class LaunchForm(FlaskForm):
    """The launch button under the preview, behind an explicit acknowledgement."""

    # The label names what this stack keeps and whether it costs money: see
    # webapp.stacks.acknowledgement, which the page renders instead of this default.
    acknowledge = BooleanField(
        "I understand: launching creates IAM roles and resources that AWS charges for "
        "while they run.",
        validators=[DataRequired(message=ACKNOWLEDGE_MESSAGE)],
        id="acknowledge",
    )
    termination_protection = BooleanField(
        "Turn on termination protection (the stack cannot be deleted until it is turned off)",
        id="termination_protection",
    )


class TablePrefixForm(FlaskForm):
    """One click on the preview when its tables exist: reuse them, or take a new prefix."""

    choice = HiddenField(validators=[DataRequired()])


class ExecuteForm(FlaskForm):
    change_set_id = HiddenField(validators=[DataRequired()])


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DeleteForm(FlaskForm):
    """Delete, once the stack's name is typed (as the AWS console asks: what is not
    retained is gone for good); after a failed delete, the resources that blocked it
    may be kept instead."""

    confirm_name = StringField(
        "Type the stack's name to confirm",
        id="confirm_name",
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"},
    )
    retain = CheckboxesField("Keep these resources instead of deleting them", choices=[])

    def __init__(self, *args, stack_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.stack_name = stack_name

    def validate_confirm_name(self, field):
        typed = (field.data or "").strip()
        if typed != self.stack_name:
            message = (
                f"Type {self.stack_name} exactly to delete it."
                if typed
                else f"Type the stack's name, {self.stack_name}, to delete it."
            )
            raise ValidationError(message)


class ContinueRollbackForm(FlaskForm):
    skip = CheckboxesField("Skip these resources (leave them as they are)", choices=[])


class UpdateForm(OptionsForm):
    """The options form, opened from a stack: its name and region are fixed, and an
    empty crypto key keeps the stack's key."""

    acknowledge = BooleanField(
        "I understand: the update may replace nodes and change IAM roles; "
        "I will see the changes before anything is applied.",
        validators=[DataRequired(message=UPDATE_ACKNOWLEDGE_MESSAGE)],
        id="acknowledge",
    )

    def __init__(self, *args, stack_name: str, region: str, **kwargs):
        super().__init__(*args, offer_region=region, **kwargs)
        self.fixed = {"stack_name": stack_name, "region": region}
        # What the stack is called and where it runs is not what an update changes.
        for name, value in self.fixed.items():
            self[name].data = value
            self[name].render_kw = {**(self[name].render_kw or {}), "readonly": True}
        # An empty key keeps the stack's (the page says so under the field), and an empty
        # table prefix is refused: neither is generated on an update.
        for field in (self.crypto_key, self.table_prefix):
            field.description = field.description.replace(" Generated when left empty.", "")

    @property
    def keeps_crypto_key(self) -> bool:
        return not (self.crypto_key.data or "").strip()

    def validate(self, extra_validators=None) -> bool:
        if not FlaskForm.validate(self, extra_validators):
            return False
        values = {**self.option_input(), **self.fixed}
        reuse = bool(values.get("reuse_tables"))
        if self.keeps_crypto_key and reuse:
            # The stack's own key stays; from_input would ask for it to reuse the tables.
            values["reuse_tables"] = False
        try:
            options = from_input(values, fill_secrets=False, require_deploy=True)
        except OptionsError as exc:
            self._attach(exc.errors)
            return False
        errors = self.network_errors(options)
        if errors:
            self._attach(errors)
            return False
        if not options.rs and not options.table_prefix:  # autopush-rs has no tables
            self._attach({"table_prefix": "Give the stack's table prefix: its tables use it."})
            return False
        self.options = dataclasses.replace(options, reuse_tables=reuse and not options.rs)
        return True


def update_form_data(values: dict[str, object]) -> dict[str, object]:
    """A stack's option values as the form's fields hold them (lists one per line)."""
    data = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            data[name] = "\n".join(str(item) for item in value)
        elif isinstance(value, bool):
            data[name] = value
        else:
            data[name] = str(value)
    return data
