"""The boot script every node runs, and each group's settings for it (its UserData)."""

from __future__ import annotations

from troposphere import Base64, FindInMap, Join, Sub

from pushstack.template.common import NodeGroup

# The boot script every node runs, kept once in the template's Mappings; each
# group's UserData sets the variables it reads, then appends it.
BOOT_SCRIPT_SOURCE = """\
set -euo pipefail
signal() { /opt/aws/bin/cfn-signal -e "$1" --stack "$STACK" --resource "$RESOURCE" --region "$REGION" || true; }
trap 'signal 1' ERR
fail() { echo "boot: $*" >&2; signal 1; exit 1; }
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
# Transient failures (a mirror, a registry, credentials not there yet) are
# tried again with growing pauses before the node gives up.
retry() {
  local n=1
  until "$@"; do
    [ "$n" -lt "${RETRIES:-5}" ] || { echo "boot: $n tries failed: $1 ${2:-}" >&2; return 1; }
    sleep $((n * n * 5)); n=$((n + 1))
  done
}
retry dnf install -y -q docker aws-cfn-bootstrap || fail "cannot install packages"
systemctl enable --now docker
TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
PRIVATE_IP=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/local-ipv4)
umask 077
# The AWS CLI's region below.
export AWS_DEFAULT_REGION=$REGION
# All below, health included, must end within the group's signal timeout.
deadline=$((SECONDS + WAIT_SECONDS))
# The keys go from Secrets Manager into a root-only file, never into a log; no
# key, no start.
secret() { retry aws secretsmanager get-secret-value --secret-id "$1" --query SecretString --output text; }
if [ -n "${SECRET_ID:-}" ]; then KEY=$(secret "$SECRET_ID") || fail "cannot read the crypto key"; fi
if [ -n "${AUTH_SECRET_ID:-}" ]; then AUTH_KEY=$(secret "$AUTH_SECRET_ID") || fail "cannot read the auth key"; fi
# What the stack creates while the nodes boot: waited for here, not in
# CloudFormation, so that the nodes boot meanwhile.
if [ -n "${ENDPOINT_HOSTNAME_PARAMETER:-}" ]; then
  until ENDPOINT_HOSTNAME=$(aws ssm get-parameter --name "$ENDPOINT_HOSTNAME_PARAMETER" --query Parameter.Value --output text 2>/dev/null); do
    [ "$SECONDS" -lt "$deadline" ] || fail "no endpoint host name in $ENDPOINT_HOSTNAME_PARAMETER"
    sleep 10
  done
fi
# DNS names are case-blind, but autoendpoint compares a VAPID claim's audience with
# its endpoint URL's origin, which URL parsing lowercases: the load balancer's
# generated name has capitals, so the nodes hand out and serve the lowercase one.
if [ -n "${ENDPOINT_HOSTNAME:-}" ]; then ENDPOINT_HOSTNAME=${ENDPOINT_HOSTNAME,,}; fi
# The primary's address of an ElastiCache replication group (it survives a failover).
address() { aws elasticache describe-replication-groups --replication-group-id "$1" --query 'ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.[Address,Port]' --output text; }
if [ -n "${REDIS_GROUP_ID:-}" ]; then
  # Redis's address, once the group has one (it is created while the nodes boot).
  until REDIS=$(address "$REDIS_GROUP_ID" 2>/dev/null) && [ -n "$REDIS" ] && [ "$REDIS" != None ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Redis $REDIS_GROUP_ID has no address yet"
    sleep 10
  done
  read -r REDIS_HOST REDIS_PORT <<< "$REDIS"
fi
if [ -n "${STORE_GROUP_ID:-}" ]; then
  # autopush-rs's store exists before the nodes.
  STORE=$(retry address "$STORE_GROUP_ID") || fail "cannot find store $STORE_GROUP_ID"
  read -r STORE_HOST STORE_PORT <<< "$STORE"
fi
{
  echo "AWS_DEFAULT_REGION=$REGION"
  push_env
  # The keys as a list, [newest, older], as both engines read them.
  if [ -n "${KEY:-}" ]; then echo "${KEY_ENV:-CRYPTO_KEY}=[${KEY//,/, }]"; fi
  if [ -n "${AUTH_KEY:-}" ]; then echo "$AUTH_ENV=[$AUTH_KEY]"; fi
} > /etc/push.env
registry=${IMAGE%%/*}
ecr() { [[ $registry == *.dkr.ecr.*.amazonaws.com ]]; }
# An image kept outside ECR runs from its copy in the stack's repository (MIRROR):
# the first node to boot on it copies it there, every later one pulls the copy.
if [ -n "${MIRROR:-}" ] && ! ecr; then
  SOURCE=$IMAGE; tag=${IMAGE//[\\/:@]/-}
  [ ${#tag} -le 128 ] || tag=${IMAGE##*:}
  IMAGE=$MIRROR:$tag; registry=${MIRROR%%/*}
fi
login() { aws ecr get-login-password --region "$(echo "$registry" | cut -d. -f4)" | docker login -u AWS --password-stdin "$registry"; }
if ecr; then retry login >/dev/null || fail "cannot log in to $registry"; fi
pull() { docker pull -q "$1" >/dev/null; }
# Copied by another node meanwhile: its copy stands (the tags are immutable).
copy() { docker push -q "$IMAGE" >/dev/null || pull "$IMAGE"; }
if [ -z "${SOURCE:-}" ]; then
  retry pull "$IMAGE" || fail "cannot pull $IMAGE"
elif ! pull "$IMAGE"; then
  retry pull "$SOURCE" || fail "cannot pull $SOURCE"
  docker tag "$SOURCE" "$IMAGE"
  retry copy || fail "cannot copy $SOURCE to $MIRROR"
fi
docker run -d --name push --restart always --network host --ulimit nofile=1000000:1000000 \\
  --log-driver journald --env-file /etc/push.env "$IMAGE" $COMMAND
# Healthy by the load balancer's own rule: a status from 200 to HEALTHY_MAX.
while [ "$SECONDS" -lt "$deadline" ]; do
  code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$HEALTH" || true)
  if [ "$code" -ge 200 ] && [ "$code" -le "$HEALTHY_MAX" ]; then signal 0; exit 0; fi
  sleep 5
done
signal 1
"""
# What the template carries: the script without its comment lines, which only
# its readers here need (the largest shape is near the 51,200-byte inline limit).
BOOT_SCRIPT = "".join(
    line
    for line in BOOT_SCRIPT_SOURCE.splitlines(keepends=True)
    if not line.lstrip().startswith("#")
)


def user_data(
    group: NodeGroup,
    command: str,
    image: str,
    env: dict,
    *,
    secret: bool,
    variables=None,
    settings: dict | None = None,
    auth: bool = False,
) -> Base64:
    """Boot script of one group: its settings, then the shared BOOT_SCRIPT.

    Tunes the kernel, installs Docker, runs the service and signals
    CloudFormation once the service answers its health check. The crypto key
    is read from Secrets Manager at boot; it is never in the template.
    """
    settings = {
        **(settings or {}),
        "STACK": "${AWS::StackName}",
        "REGION": "${AWS::Region}",
        "RESOURCE": f"{group.name}Nodes",
        "PORT": str(group.port),
        "HEALTH": group.boot_check_path,
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
    if auth:
        settings["AUTH_SECRET_ID"] = "${AuthKeySecret}"  # noqa: S105 (the secret's ARN)
    lines = ["#!/bin/bash", *(f"{name}={value}" for name, value in settings.items())]
    lines.append("push_env() {")
    lines += [f"  echo {name}={value}" for name, value in env.items()]
    lines.append("}")
    header = Sub("\n".join(lines) + "\n", **(variables or {}))
    return Base64(Join("", [header, FindInMap("Boot", "Script", "Body")]))
