"""The boot script every node runs, and each group's settings for it (its UserData)."""

from __future__ import annotations

from troposphere import Base64, FindInMap, Join, Sub

from pushstack.template.common import NodeGroup

# The boot script every node runs, kept once in the template's Mappings; each
# group's UserData sets the variables it reads, then appends it.
BOOT_SCRIPT = """\
set -euo pipefail
signal() { /opt/aws/bin/cfn-signal -e "$1" --stack "$STACK" --resource "$RESOURCE" --region "$REGION" || true; }
trap 'signal 1' ERR
# Many open connections: raise the kernel's limits.
cat > /etc/sysctl.d/90-push.conf <<'CONF'
fs.file-max = 2097152
fs.nr_open = 2097152
net.core.somaxconn = 65535
net.core.netdev_max_backlog = 65535
net.ipv4.tcp_max_syn_backlog = 65535
net.ipv4.ip_local_port_range = 1024 65535
net.ipv4.tcp_tw_reuse = 1
net.ipv4.tcp_fin_timeout = 15
CONF
sysctl --system >/dev/null
dnf install -y -q docker aws-cfn-bootstrap
systemctl enable --now docker
TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
PRIVATE_IP=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/local-ipv4)
umask 077
# The crypto key goes from Secrets Manager into a root-only file, never into a log.
# A new instance's credentials may take a moment: a few tries, then stop (and
# signal failure) rather than start without a key.
if [ -n "${SECRET_ID:-}" ]; then
  for attempt in 1 2 3 4 5 6; do
    KEY=$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$SECRET_ID" --query SecretString --output text) && break
    [ "$attempt" -lt 6 ] || { signal 1; exit 1; }
    sleep 10
  done
fi
{
  echo "AWS_DEFAULT_REGION=$REGION"
  push_env
  if [ -n "${KEY:-}" ]; then echo "CRYPTO_KEY=$KEY"; fi
} > /etc/push.env
docker run -d --name push --restart always --network host --ulimit nofile=1000000:1000000 \\
  --log-driver journald --env-file /etc/push.env "$IMAGE" $COMMAND
# Healthy by the load balancer's own rule: a status from 200 to HEALTHY_MAX.
deadline=$((SECONDS + WAIT_SECONDS))
while [ "$SECONDS" -lt "$deadline" ]; do
  code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$HEALTH" || true)
  if [ "$code" -ge 200 ] && [ "$code" -le "$HEALTHY_MAX" ]; then signal 0; exit 0; fi
  sleep 5
done
signal 1
"""


def user_data(
    group: NodeGroup, command: str, image: str, env: dict, *, secret: bool, variables=None
) -> Base64:
    """Boot script of one group: its settings, then the shared BOOT_SCRIPT.

    Tunes the kernel, installs Docker, runs the service and signals
    CloudFormation once the service answers its health check. The crypto key
    is read from Secrets Manager at boot; it is never in the template.
    """
    settings = {
        "STACK": "${AWS::StackName}",
        "REGION": "${AWS::Region}",
        "RESOURCE": f"{group.name}Nodes",
        "PORT": str(group.port),
        "HEALTH": group.health_path,
        "HEALTHY_MAX": str(group.healthy_max),
        "WAIT_SECONDS": str(group.wait_seconds),
        "IMAGE": image,
        "COMMAND": command,
    }
    if secret:
        settings["SECRET_ID"] = "${CryptoKeySecret}"  # noqa: S105 (the secret's ARN)
        # Not the key: its fingerprint. A new key changes the launch template,
        # so a rolling update replaces every node and all read the same keys.
        settings["KEY_REVISION"] = "${CryptoKeyRevision}"
    lines = ["#!/bin/bash", *(f"{name}={value}" for name, value in settings.items())]
    lines.append("push_env() {")
    lines += [f"  echo {name}={value}" for name, value in env.items()]
    lines.append("}")
    header = Sub("\n".join(lines) + "\n", **(variables or {}))
    return Base64(Join("", [header, FindInMap("Boot", "Script", "Body")]))
