"""What the preview reads from the account before a launch: the vCPU quota the nodes count
against (Service Quotas), and the AMI the public SSM parameter names today (SSM).

The functions take the ``Cloud`` whose ``_call`` makes the calls (part of the cloud
module: the only code that talks to AWS) and return plain views; a failure is a
``CloudError`` in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushstack.cloud.errors import CloudError

# "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", in vCPUs: every
# instance type the node groups offer (t3, m5, c5) counts against it.
QUOTA_SERVICE = "ec2"
QUOTA_CODE = "L-1216C47A"
QUOTA_NAME = "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"

# moto 5.2.5's Service Quotas knows VPC's quotas only: GetServiceQuota of ec2 answers
# NoSuchResourceException (checked against the sandbox).
SANDBOX_QUOTA_NOTE = (
    "The sandbox does not emulate EC2's quotas (moto 5.2.5's Service Quotas knows only "
    "VPC's), so nothing is checked here. In an AWS account the preview compares these "
    f"numbers with the account's quota {QUOTA_CODE}."
)


@dataclass(frozen=True)
class VcpuQuota:
    """The account's vCPU quota of On-Demand standard instances in one region. ``value`` is
    None in the sandbox, which has no such quota (``note`` says so)."""

    region: str
    value: float | None
    note: str = ""

    @property
    def vcpus(self) -> int | None:
        return None if self.value is None else int(self.value)

    def verdict(self, desired: int, maximum: int) -> str:
        """Whether the quota allows the maximums ("enough"), the desired sizes only
        ("desired"), not even those ("short"), or is not known ("unknown")."""
        if self.value is None:
            return "unknown"
        if self.value >= maximum:
            return "enough"
        if self.value >= desired:
            return "desired"
        return "short"

    def increase_command(self, wanted: int) -> str:
        return (
            "aws service-quotas request-service-quota-increase "
            f"--service-code {QUOTA_SERVICE} --quota-code {QUOTA_CODE} "
            f"--desired-value {wanted} --region {self.region}"
        )


def vcpu_quota(cloud) -> VcpuQuota:
    """GetServiceQuota of ec2 L-1216C47A in the cloud's region; a ``CloudError`` when it
    cannot be read (denied, throttled, no value for this account)."""
    try:
        reply = cloud._call(
            "service-quotas", "get_service_quota", ServiceCode=QUOTA_SERVICE, QuotaCode=QUOTA_CODE
        )
    except CloudError as error:
        if error.code != "NoSuchResourceException":
            raise
        if cloud.target.is_sandbox:
            return VcpuQuota(cloud.region, None, SANDBOX_QUOTA_NOTE)
        raise CloudError(
            f"Service Quotas has no value of the quota {QUOTA_CODE} ({QUOTA_NAME}) for this "
            f"account in {cloud.region}.",
            "Look it up in the Service Quotas console (Amazon EC2) before launching.",
            error.code,
        ) from error
    quota = reply.get("Quota") or {}
    value = quota.get("Value")
    if value is None:
        raise CloudError(
            f"Service Quotas answered without a value for the quota {QUOTA_CODE} in "
            f"{cloud.region}.",
            "Look it up in the Service Quotas console (Amazon EC2) before launching.",
        )
    return VcpuQuota(cloud.region, float(value))


@dataclass(frozen=True)
class CurrentAmi:
    """The AMI id an SSM parameter (``/aws/service/ami-amazon-linux-latest/...``) names
    today in one region."""

    region: str
    parameter: str
    ami_id: str


def ssm_value(call, name: str, region: str) -> str:
    """The value of SSM parameter ``name`` (GetParameters); a ``CloudError`` when it is
    not there (a region without it, a name AWS retired)."""
    reply = call("ssm", "get_parameters", Names=[name])
    for parameter in reply.get("Parameters") or ():
        if parameter.get("Name") == name and parameter.get("Value"):
            return str(parameter["Value"])
    raise CloudError(
        f"The SSM parameter {name} does not exist in {region}.",
        "Pin an AMI instead (the Pinned AMI option), one of this region's Amazon Linux 2023 AMIs.",
        "ParameterNotFound",
    )


def current_ami(cloud, parameter: str) -> CurrentAmi:
    """The AMI the public SSM parameter ``parameter`` resolves to today."""
    return CurrentAmi(cloud.region, parameter, ssm_value(cloud._call, parameter, cloud.region))
