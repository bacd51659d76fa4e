"""secret-parameter: a secret-named template parameter that is echoed back or has a default."""

from __future__ import annotations

from collections.abc import Iterator

from graders.analysis.context import CheckContext, Hit, is_cdk_parameter
from graders.analysis.secret_names import SECRET_WORDS, is_secret_name
from graders.checks import CheckOptions, check


class SecretParameterOptions(CheckOptions):
    secret_names: tuple[str, ...] = SECRET_WORDS
    """Words that make a parameter secret-named when its name ends with one (``DBPassword``,
    ``ApiToken``); ``DBPasswordSecretArn`` or ``SecretName`` end with another word and name a
    reference, not the secret."""


@check("secret-parameter", lenses=("template",), options=SecretParameterOptions)
def secret_parameter(ctx: CheckContext) -> Iterator[Hit]:
    """A secret-named template parameter that is shown in clear or has a default value.

    What it finds: parameters whose name ends with a secret word (rubric option
    `secret_names`: password, token, api_key, ...) of a plain type (``String``, ``Number``,
    ``CommaDelimitedList``) that lack ``NoEcho: true`` or carry a ``Default``. Parameters read
    from SSM (``AWS::SSM::Parameter::Value<...>``) and CDK's own parameters are not reported. A
    default that looks like a real credential is also a ``hardcoded-secret`` finding; this one
    says what is wrong with the parameter.

    Why it matters: without NoEcho the value is shown in clear by the console, ``describe-stacks``
    and every tool that lists the stack's parameters. A default is a password everyone who can
    read the template knows, and the stack deploys with it whenever nobody overrides it.

    Bad example:

        Parameters:
          DBPassword:
            Type: String
            Default: ChangeMe123!

    Fix: let Secrets Manager generate the secret (``GenerateSecretString``, or
    ``ManageMasterUserPassword: true`` on RDS) and reference it with ``{{resolve:secretsmanager:...}}``;
    a parameter that must stay gets ``NoEcho: true`` and no default.
    """
    words = list(ctx.options(SecretParameterOptions).secret_names)
    for stack, name, entry in ctx.entries("Parameters"):
        if is_cdk_parameter(name, entry) or not is_secret_name(name, words):
            continue
        if str(entry.get("Type", "String")).startswith(("AWS::SSM::", "List<AWS::")):
            continue
        problems = []
        if str(entry.get("NoEcho", "")).lower() != "true":
            problems.append("has no `NoEcho: true` (its value is shown in clear in the console and API)")
        if entry.get("Default") not in (None, ""):
            problems.append(
                "has a default value (unless overridden, the stack deploys with a secret anyone reading the template knows)"
            )
        if problems:
            value = "NoEcho missing" if not entry.get("NoEcho") else "Default set"
            yield Hit(
                f"secret parameter {name} " + " and ".join(problems),
                [ctx.entry_evidence(stack, "Parameters", name, value)],
                key=f"{stack}:{name}",
                lens="template",
            )
