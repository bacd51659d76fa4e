"""secret-parameter-no-echo: a secret-named template parameter whose value is shown in clear."""

from __future__ import annotations

from collections.abc import Iterator

from iacgrade.graders.analysis.context import CheckContext, Hit
from iacgrade.graders.analysis.secret_names import SECRET_WORDS, is_secret_name
from iacgrade.graders.analysis.template import is_cdk_parameter
from iacgrade.graders.checks import CheckOptions, check


class SecretParameterNoEchoOptions(CheckOptions):
    secret_names: tuple[str, ...] = SECRET_WORDS
    """Words that make a parameter secret-named when its name ends with one (``DBPassword``,
    ``ApiToken``); ``DBPasswordSecretArn`` or ``SecretName`` end with another word and name a
    reference, not the secret."""


@check("secret-parameter-no-echo", lenses=("template",), options=SecretParameterNoEchoOptions)
def secret_parameter_no_echo(ctx: CheckContext) -> Iterator[Hit]:
    """A secret-named template parameter without ``NoEcho``: its value is shown in clear.

    What it finds: parameters whose name ends with a secret word (rubric option
    `secret_names`: password, token, api_key, ...) of a plain type (``String``, ``Number``,
    ``CommaDelimitedList``) that lack ``NoEcho: true``. Parameters read from SSM
    (``AWS::SSM::Parameter::Value<...>``) and CDK's own parameters are not reported. A secret
    given as the parameter's ``Default`` is ``hardcoded-secret``'s finding (it reads parameter
    defaults), not repeated here.

    Why it matters: without NoEcho the value is shown in clear by the console,
    ``describe-stacks`` and every tool that lists the stack's parameters, to anyone with read
    access to CloudFormation.

    Bad example:

        Parameters:
          DBPassword:
            Type: String
            MinLength: 12

    Fix: let Secrets Manager generate the secret (``GenerateSecretString``, or
    ``ManageMasterUserPassword: true`` on RDS) and reference it with
    ``{{resolve:secretsmanager:...}}``; a parameter that must stay gets ``NoEcho: true`` and no
    default.
    """
    words = list(ctx.options(SecretParameterNoEchoOptions).secret_names)
    for stack, name, entry in ctx.template.entries("Parameters"):
        if is_cdk_parameter(name, entry) or not is_secret_name(name, words):
            continue
        if str(entry.get("Type", "String")).startswith(("AWS::SSM::", "List<AWS::")):
            continue
        if str(entry.get("NoEcho", "")).lower() != "true":
            yield Hit(
                f"secret parameter {name} has no `NoEcho: true`: its value is shown in clear in the console and API",
                [ctx.template.entry_evidence(stack, "Parameters", name, "NoEcho missing")],
                key=f"{stack}:{name}",
                lens="template",
            )
