"""encryption-missing: data stores left unencrypted where AWS does not encrypt by default."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iacgrade.graders.analysis.cfn import as_list, is_intrinsic
from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.model import (
    construct_call_id,
    construct_label,
    infrastructure_files,
    key_text,
    merge_lenses,
    template_key,
)
from iacgrade.graders.analysis.pyast import call_name, dotted, iter_calls, kwarg, literal, str_literal, walk
from iacgrade.graders.analysis.template import Resource
from iacgrade.graders.checks import CheckOptions, check


class EncryptionMissingOptions(CheckOptions):
    require_cmk: bool = False
    """Every store kind needs a customer-managed KMS key (S3, DynamoDB, SQS, SNS, Kinesis, RDS, EFS)."""
    read_prompt: bool = True
    """Read the task's lib/PROMPT.md: the stores a sentence asks customer-managed keys for, and
    whether it asks for encrypted topics."""


@check(
    "encryption-missing",
    lenses=("source", "template"),
    kinds=("cdk-python",),
    options=EncryptionMissingOptions,
)
def encryption_missing(ctx: CheckContext) -> Iterator[Hit]:
    """Data stores left unencrypted where AWS does not encrypt by default.

    What it finds: RDS instances and clusters (also DocumentDB/Neptune) without storage
    encryption, EFS file systems, ElastiCache Redis without at-rest or in-transit encryption
    (single-node CacheClusters cannot encrypt at rest), OpenSearch domains without encryption
    at rest or node-to-node encryption, Kinesis streams and EBS volumes without encryption,
    DAX clusters without SSE (including an `SSESpecification` silently dropped to `{}`). SNS
    topics only when the task asks for encrypted topics. With the rubric option `require_cmk`
    (or, with `read_prompt`, a task prompt asking for customer-managed keys for a kind of store), stores of that
    kind without a customer-managed KMS key as well. S3, DynamoDB and SQS encrypt by default
    and are not flagged otherwise.

    Why it matters: unencrypted storage fails most compliance baselines and exposes data in
    snapshots, backups and disks that leave the service's control.

    Bad example:

        rds.DatabaseInstance(self, "Db", engine=rds.DatabaseInstanceEngine.postgres(...), vpc=vpc)

    Fix: set `storage_encrypted=True` (RDS), `at_rest_encryption_enabled`/`transit_encryption_enabled`
    (ElastiCache), `encryption_at_rest`/`node_to_node_encryption` (OpenSearch) and give stores a
    customer-managed KMS key where the requirement asks for one.
    """
    cmk, sns = _requirements(ctx)
    template_hits = list(_encryption_template(ctx, cmk, sns)) if ctx.template.present else []
    yield from merge_lenses(ctx, template_hits, _encryption_source(ctx, cmk, sns))


# ==== encryption-missing ====================================================================

_STORE_WORDS = {
    "S3": r"\bS3\b|\bbuckets?\b",
    "DynamoDB": r"dynamo",
    "SQS": r"\bSQS\b|\bqueues?\b",
    "SNS": r"\bSNS\b|\btopics?\b",
    "Kinesis": r"kinesis",
    "RDS": r"\bRDS\b|aurora|\bdatabases?\b",
    "EFS": r"\bEFS\b|file ?systems?",
}


_CMK_WORDS = re.compile(r"customer[- ]managed|\bCMKs?\b", re.IGNORECASE)


def _prompt(ctx: CheckContext) -> str:
    root = ctx.sample.task_root
    if not root:
        return ""
    try:
        return (Path(root) / "lib" / "PROMPT.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def _requirements(ctx: CheckContext) -> tuple[set[str], bool]:
    """(stores that must use a customer-managed key, whether SNS topics must be encrypted)."""
    opts = ctx.options(EncryptionMissingOptions)
    if opts.require_cmk:
        return set(_STORE_WORDS), True
    cmk: set[str] = set()
    sns = False
    prompt = _prompt(ctx) if opts.read_prompt else ""
    for sentence in _sentences(prompt):
        if _CMK_WORDS.search(sentence):
            cmk |= {
                store for store, words in _STORE_WORDS.items() if re.search(words, sentence, re.IGNORECASE)
            }
        if re.search(_STORE_WORDS["SNS"], sentence, re.IGNORECASE) and re.search(
            r"encrypt|\bKMS\b", sentence, re.I
        ):
            sns = True
    return cmk, sns or "SNS" in cmk


def _truthy(value: Any) -> bool | None:
    """True/False for a template boolean, None for an intrinsic (cannot tell)."""
    if is_intrinsic(value):
        return None
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _encryption_template(ctx: CheckContext, cmk: set[str], sns: bool) -> Iterator[Hit]:
    for res in ctx.template.resources():
        problems = _template_problems(res, cmk, sns)
        if problems:
            key = template_key(res)
            yield Hit(
                f"{_kind(res.type)} {key_text(key)}: {'; '.join(problems)}",
                [res.evidence(value=p) for p in problems],
                key=key,
                lens="template",
            )


def _kind(rtype: str) -> str:
    return rtype.removeprefix("AWS::").replace("::", " ")


def _off(props: dict[str, Any], key: str) -> str:
    """How a switched-off encryption setting reads: turned off by the answer, or left out."""
    return f"{key} is false" if props.get(key) is not None else f"{key} is not set"


def _not_true(props: dict[str, Any], *path: str) -> bool:
    """True when the boolean at ``path`` is missing or false (not when it is an intrinsic)."""
    value: Any = props
    for part in path:
        if is_intrinsic(value):
            return False
        value = value.get(part) if isinstance(value, dict) else None
    return _truthy(value) is False


def _template_problems(res: Resource, cmk: set[str], sns: bool) -> list[str]:
    p, t = res.properties, res.type
    out: list[str] = []
    if t == "AWS::RDS::DBInstance":
        if "DBClusterIdentifier" in p or "SourceDBInstanceIdentifier" in p or "DBSnapshotIdentifier" in p:
            return []  # encryption comes from the cluster / source / snapshot
        if _not_true(p, "StorageEncrypted") and "KmsKeyId" not in p:
            out.append(f"{_off(p, 'StorageEncrypted')} (RDS does not encrypt storage by default)")
        elif "RDS" in cmk and "KmsKeyId" not in p:
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t in ("AWS::RDS::DBCluster", "AWS::DocDB::DBCluster", "AWS::Neptune::DBCluster"):
        if (
            p.get("EngineMode") == "serverless"
            or "SnapshotIdentifier" in p
            or "SourceDBClusterIdentifier" in p
        ):
            return []
        if _not_true(p, "StorageEncrypted") and "KmsKeyId" not in p:
            out.append(f"{_off(p, 'StorageEncrypted')} (clusters are not encrypted by default)")
        elif "RDS" in cmk and t == "AWS::RDS::DBCluster" and "KmsKeyId" not in p:
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t == "AWS::EFS::FileSystem":
        if _not_true(p, "Encrypted"):
            out.append(_off(p, "Encrypted"))
        elif "EFS" in cmk and "KmsKeyId" not in p:
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t == "AWS::ElastiCache::ReplicationGroup":
        if _not_true(p, "AtRestEncryptionEnabled"):
            out.append(_off(p, "AtRestEncryptionEnabled"))
        if _not_true(p, "TransitEncryptionEnabled"):
            out.append(_off(p, "TransitEncryptionEnabled"))
    elif t == "AWS::ElastiCache::CacheCluster":
        if str(p.get("Engine", "")).lower() in ("redis", "valkey"):
            out.append(
                "a single-node Redis CacheCluster cannot encrypt at rest (use a ReplicationGroup with "
                "AtRestEncryptionEnabled/TransitEncryptionEnabled)"
            )
    elif t in ("AWS::OpenSearchService::Domain", "AWS::Elasticsearch::Domain"):
        if _not_true(p, "EncryptionAtRestOptions", "Enabled"):
            out.append("EncryptionAtRestOptions.Enabled is not true")
        if _not_true(p, "NodeToNodeEncryptionOptions", "Enabled"):
            out.append("NodeToNodeEncryptionOptions.Enabled is not true")
    elif t == "AWS::Kinesis::Stream":
        enc = p.get("StreamEncryption")
        if enc is None:
            out.append("no StreamEncryption")
        elif (
            "Kinesis" in cmk
            and isinstance(enc, dict)
            and not is_intrinsic(enc)
            and enc.get("KeyId") in (None, "alias/aws/kinesis")
        ):
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t == "AWS::DAX::Cluster":
        sse = p.get("SSESpecification")
        if sse == {}:
            out.append("SSESpecification is empty (a setting given in the code was dropped), so SSE is off")
        elif _not_true(p, "SSESpecification", "SSEEnabled"):
            out.append("SSESpecification.SSEEnabled is not true (DAX does not encrypt by default)")
    elif t == "AWS::EC2::Volume":
        if _not_true(p, "Encrypted") and "SnapshotId" not in p:
            out.append(_off(p, "Encrypted"))
    elif t in ("AWS::EC2::Instance", "AWS::EC2::LaunchTemplate", "AWS::AutoScaling::LaunchConfiguration"):
        out.extend(_block_device_problems(p))
    elif t == "AWS::SNS::Topic":
        if (sns or "SNS" in cmk) and "KmsMasterKeyId" not in p:
            out.append(
                "no KmsMasterKeyId (SNS does not encrypt topics at rest by default; the task asks for it)"
            )
        elif "SNS" in cmk and p.get("KmsMasterKeyId") == "alias/aws/sns":
            out.append("encrypted with the AWS-managed key, not a customer-managed KMS key")
    elif t == "AWS::S3::Bucket" and "S3" in cmk and not _s3_cmk(p):
        out.append("no customer-managed KMS key (the task asks for one)")
    elif t == "AWS::DynamoDB::Table" and "DynamoDB" in cmk:
        sse = p.get("SSESpecification")
        if not (isinstance(sse, dict) and sse.get("KMSMasterKeyId")):
            out.append("no customer-managed KMS key (the task asks for one)")
    elif t == "AWS::SQS::Queue" and "SQS" in cmk and p.get("KmsMasterKeyId") in (None, "alias/aws/sqs"):
        out.append("no customer-managed KMS key (the task asks for one)")
    return out


def _block_device_problems(props: dict[str, Any]) -> list[str]:
    template_data = props.get("LaunchTemplateData")
    data: dict[str, Any] = template_data if isinstance(template_data, dict) else props
    out = []
    for bdm in as_list(data.get("BlockDeviceMappings")):
        ebs = bdm.get("Ebs") if isinstance(bdm, dict) else None
        if (
            isinstance(ebs, dict)
            and not is_intrinsic(ebs)
            and "SnapshotId" not in ebs
            and _not_true(ebs, "Encrypted")
        ):
            out.append(f"EBS volume {bdm.get('DeviceName', '?')} is not encrypted")
    return out


def _s3_cmk(props: dict[str, Any]) -> bool:
    enc = props.get("BucketEncryption")
    if not isinstance(enc, dict):
        return False
    for rule in as_list(enc.get("ServerSideEncryptionConfiguration")):
        default = rule.get("ServerSideEncryptionByDefault") if isinstance(rule, dict) else None
        if isinstance(default, dict) and default.get("KMSMasterKeyID") not in (None, "alias/aws/s3"):
            return True
    return False


def _encryption_source(ctx: CheckContext, cmk: set[str], sns: bool) -> Iterator[Hit]:
    for idx in infrastructure_files(ctx):
        src, tree = idx.src, idx.tree
        modules = _cdk_modules(tree)
        for call in iter_calls(tree):
            key = construct_call_id(call)
            if not key:
                continue
            problems = _source_problems(call, _module_of(call, modules), cmk, sns)
            if problems:
                yield Hit(
                    f"{call_name(call)} {construct_label(call) or key}: {'; '.join(problems)}",
                    [ctx.source.at(src, call, value=p) for p in problems],
                    key=key,
                )


def _cdk_modules(tree: ast.Module) -> dict[str, str]:
    """Local name -> aws_cdk service module (`rds`, `docdb`, ...) for module and class imports."""
    out: dict[str, str] = {}
    for node in walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module in ("aws_cdk", "aws_cdk.core"):
                for alias in node.names:
                    out[alias.asname or alias.name] = alias.name.removeprefix("aws_")
            elif node.module.startswith("aws_cdk."):
                service = node.module.split(".")[1].removeprefix("aws_")
                for alias in node.names:
                    out[alias.asname or alias.name] = service
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aws_cdk.") and alias.asname:
                    out[alias.asname] = alias.name.split(".")[1].removeprefix("aws_")
    return out


def _module_of(call: ast.Call, modules: dict[str, str]) -> str:
    """The aws_cdk service a constructor comes from (`rds` for `rds.DatabaseInstance`)."""
    func = call.func
    if isinstance(func, ast.Attribute):
        base = dotted(func.value).rsplit(".", 1)[-1]
        return modules.get(base, base.removeprefix("aws_"))
    if isinstance(func, ast.Name):
        return modules.get(func.id, "")
    return ""


def _given(call: ast.Call, *names: str) -> bool:
    """True when any of the keywords is passed something other than None."""
    for name in names:
        node = kwarg(call, name)
        if node is not None and not (isinstance(node, ast.Constant) and node.value is None):
            return True
    return False


def _kw_true(call: ast.Call, name: str) -> bool | None:
    """True/False for a literal keyword, None when absent; a non-literal counts as True (cannot tell)."""
    if not _given(call, name):
        return None
    return literal(kwarg(call, name), "?") is not False


def _attr(call: ast.Call, name: str) -> str:
    """`StreamEncryption.UNENCRYPTED` -> 'UNENCRYPTED' for an enum-valued keyword, else ''."""
    node = kwarg(call, name)
    return dotted(node).rsplit(".", 1)[-1] if node is not None else ""


def _source_problems(call: ast.Call, module: str, cmk: set[str], sns: bool) -> list[str]:  # noqa: C901
    name = call_name(call)
    out: list[str] = []
    if name in ("DatabaseInstance", "DatabaseCluster") and module == "rds":
        if not _kw_true(call, "storage_encrypted") and not _given(call, "storage_encryption_key"):
            out.append("no storage_encrypted=True (RDS does not encrypt storage by default)")
        elif "RDS" in cmk and not _given(call, "storage_encryption_key"):
            out.append("no customer-managed storage_encryption_key (the task asks for one)")
    elif (
        name == "DatabaseCluster"
        and module in ("docdb", "neptune")
        and _kw_true(call, "storage_encrypted") is False
    ):
        out.append("storage_encrypted=False")
    elif name == "CfnDBInstance" and module == "rds":
        if _given(call, "db_cluster_identifier", "source_db_instance_identifier", "db_snapshot_identifier"):
            return []
        if not _kw_true(call, "storage_encrypted") and not _given(call, "kms_key_id"):
            out.append("no storage_encrypted=True (RDS does not encrypt storage by default)")
    elif name == "CfnDBCluster" and module in ("rds", "docdb", "neptune"):
        if str_literal(kwarg(call, "engine_mode")) == "serverless" or _given(call, "snapshot_identifier"):
            return []
        if not _kw_true(call, "storage_encrypted") and not _given(call, "kms_key_id"):
            out.append("no storage_encrypted=True")
    elif name == "FileSystem" and module == "efs" and _kw_true(call, "encrypted") is False:
        out.append("encrypted=False")
    elif name == "CfnFileSystem" and module == "efs" and not _kw_true(call, "encrypted"):
        out.append("no encrypted=True")
    elif name == "CfnReplicationGroup" and module == "elasticache":
        if not _kw_true(call, "at_rest_encryption_enabled"):
            out.append("no at_rest_encryption_enabled=True")
        if not _kw_true(call, "transit_encryption_enabled"):
            out.append("no transit_encryption_enabled=True")
    elif name == "CfnCacheCluster" and module == "elasticache":
        if (str_literal(kwarg(call, "engine")) or "").lower() in ("redis", "valkey"):
            out.append(
                "a single-node Redis CacheCluster cannot encrypt at rest (use a CfnReplicationGroup with "
                "at_rest_encryption_enabled/transit_encryption_enabled)"
            )
    elif name in ("Domain", "CfnDomain") and module in ("opensearchservice", "elasticsearch"):
        out.extend(_domain_source(call))
    elif name == "Stream" and module == "kinesis" and _attr(call, "encryption") == "UNENCRYPTED":
        out.append("encryption=StreamEncryption.UNENCRYPTED")
    elif name == "CfnStream" and module == "kinesis" and not _given(call, "stream_encryption"):
        out.append("no stream_encryption")
    elif name == "CfnCluster" and module == "dax":
        out.extend(_dax_source(call))
    elif name in ("Volume", "CfnVolume") and module == "ec2":
        if not _kw_true(call, "encrypted") and not _given(call, "snapshot_id"):
            out.append("no encrypted=True")
    elif name in ("Instance", "LaunchTemplate") and module == "ec2":
        out.extend(_ebs_source(call))
    elif name == "Topic" and module == "sns" and (sns or "SNS" in cmk) and not _given(call, "master_key"):
        out.append("no master_key (SNS does not encrypt topics at rest by default; the task asks for it)")
    elif name == "Bucket" and module == "s3" and "S3" in cmk:
        if not _given(call, "encryption_key") and _attr(call, "encryption") != "KMS":
            out.append("no customer-managed encryption_key (the task asks for one)")
    elif name in ("Table", "TableV2") and module == "dynamodb" and "DynamoDB" in cmk:
        enc = ast.dump(kwarg(call, "encryption") or ast.Constant(None)).lower()
        if not _given(call, "encryption_key") and "customer_managed" not in enc:
            out.append("no customer-managed encryption key (the task asks for one)")
    elif name == "Queue" and module == "sqs" and "SQS" in cmk:
        if not _given(call, "encryption_master_key") and _attr(call, "encryption") != "KMS":
            out.append("no customer-managed encryption_master_key (the task asks for one)")
    return out


def _domain_source(call: ast.Call) -> list[str]:
    out = []
    at_rest = kwarg(call, "encryption_at_rest") or kwarg(call, "encryption_at_rest_options")
    if at_rest is None or _disabled(at_rest):
        out.append("no encryption at rest (encryption_at_rest enabled=True)")
    n2n = kwarg(call, "node_to_node_encryption")
    n2n_opts = kwarg(call, "node_to_node_encryption_options")
    if (
        (n2n is None and n2n_opts is None)
        or (n2n is not None and literal(n2n, "?") is False)
        or (n2n_opts is not None and _disabled(n2n_opts))
    ):
        out.append("no node_to_node_encryption=True")
    return out


def _disabled(node: ast.AST) -> bool:
    """A props call or dict whose `enabled` is missing or False."""
    items: dict[str, ast.expr] | None = None
    if isinstance(node, ast.Call):
        items = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    elif isinstance(node, ast.Dict):
        items = {str_literal(k) or "": v for k, v in zip(node.keys, node.values, strict=False)}
    if items is None:
        return False
    enabled = items.get("enabled")
    return enabled is None or literal(enabled, "?") is False


def _dax_source(call: ast.Call) -> list[str]:
    sse = kwarg(call, "sse_specification")
    if sse is None:
        return ["no sse_specification (DAX does not encrypt by default)"]
    if isinstance(sse, ast.Dict):
        keys = [str_literal(k) for k in sse.keys]
        if "sse_enabled" not in keys:
            shown = ", ".join(repr(k) for k in keys if k)
            return [
                f"sse_specification={{{shown}: ...}} uses a key CDK does not know (the Python field is "
                "sse_enabled), so it is dropped and SSE stays off"
            ]
        value = sse.values[keys.index("sse_enabled")]
        return ["sse_enabled=False"] if literal(value, "?") is False else []
    if isinstance(sse, ast.Call) and literal(kwarg(sse, "sse_enabled"), "?") in (False, None):
        return ["sse_specification without sse_enabled=True"]
    return []


def _ebs_source(call: ast.Call) -> list[str]:
    out = []
    for node in walk(call):
        if (
            isinstance(node, ast.Call)
            and call_name(node) == "ebs"
            and "BlockDeviceVolume" in dotted(node.func)
        ):
            if not _kw_true(node, "encrypted"):
                out.append("BlockDeviceVolume.ebs(...) without encrypted=True")
    return out
