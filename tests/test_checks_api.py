"""Edge cases of api-no-auth, cors-allow-all and api-throttling-missing (hand-written templates)."""

from __future__ import annotations

from typing import Any

from iacgrade.graders.checks import run_checks
from iacgrade.graders.models import Finding
from tests.checkkit import make_context, run_check


def _res(rtype: str, path: str, **props: Any) -> dict[str, Any]:
    return {"Type": rtype, "Properties": props, "Metadata": {"aws:cdk:path": f"Stack/{path}/Resource"}}


API = {"ApiA1B2C3D4": _res("AWS::ApiGateway::RestApi", "Api", Name="Api")}
ROOT = {"Fn::GetAtt": ["ApiA1B2C3D4", "RootResourceId"]}


def _method(verb: str, resource: Any, **props: Any) -> dict[str, Any]:
    return _res(
        "AWS::ApiGateway::Method",
        f"Api/Default/{verb}",
        HttpMethod=verb,
        RestApiId={"Ref": "ApiA1B2C3D4"},
        ResourceId=resource,
        **props,
    )


def _stage(name: str = "prod", **props: Any) -> dict[str, Any]:
    return _res(
        "AWS::ApiGateway::Stage",
        f"Api/DeploymentStage.{name}",
        RestApiId={"Ref": "ApiA1B2C3D4"},
        StageName=name,
        **props,
    )


STACK_CODE = (
    "from aws_cdk import Stack\n"
    "from aws_cdk import aws_apigateway as apigw\n"
    "class S(Stack):\n"
    "    def __init__(self, scope, cid):\n"
    "        super().__init__(scope, cid)\n"
)


# ---- api-no-auth -----------------------------------------------------------------------------


def test_template_paths_follow_nested_resources_and_skip_preflight() -> None:
    resources = {
        **API,
        "ApiusersA1B2C3D4": _res(
            "AWS::ApiGateway::Resource", "Api/Default/users", PathPart="users", ParentId=ROOT
        ),
        "ApiusersidA1B2C3D4": _res(
            "AWS::ApiGateway::Resource",
            "Api/Default/users/{id}",
            PathPart="{id}",
            ParentId={"Ref": "ApiusersA1B2C3D4"},
        ),
        "GetA1B2C3D4": _method("GET", {"Ref": "ApiusersidA1B2C3D4"}, AuthorizationType="NONE"),
        "OptA1B2C3D4": _method("OPTIONS", {"Ref": "ApiusersidA1B2C3D4"}, AuthorizationType="NONE"),
        "PostA1B2C3D4": _method("POST", ROOT, AuthorizationType="COGNITO_USER_POOLS"),
        "PutA1B2C3D4": _method("PUT", ROOT, AuthorizationType="NONE", ApiKeyRequired=True),
        "DelA1B2C3D4": _method("DELETE", ROOT, AuthorizationType={"Fn::If": ["Auth", "AWS_IAM", "NONE"]}),
    }
    (finding,) = run_check("api-no-auth", {}, resources)
    assert finding.message == "RestApi Api: 1 method with no authorizer, IAM auth or API key: GET /users/{id}"


def test_network_restricted_apis_are_not_flagged() -> None:
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}},
            }
        ]
    }
    resources = {
        "ApiA1B2C3D4": _res("AWS::ApiGateway::RestApi", "Api", Name="Api", Policy=policy),
        "GetA1B2C3D4": _method("GET", ROOT, AuthorizationType="NONE"),
    }
    assert run_check("api-no-auth", {}, resources) == []
    resources["ApiA1B2C3D4"] = _res(
        "AWS::ApiGateway::RestApi", "Api", Name="Api", EndpointConfiguration={"Types": ["PRIVATE"]}
    )
    assert run_check("api-no-auth", {}, resources) == []


def test_websocket_only_connect_route_counts() -> None:
    resources = {
        "WsA1B2C3D4": _res("AWS::ApiGatewayV2::Api", "Ws", ProtocolType="WEBSOCKET", Name="ws"),
        "MsgA1B2C3D4": _res(
            "AWS::ApiGatewayV2::Route", "Ws/msg", ApiId={"Ref": "WsA1B2C3D4"}, RouteKey="sendmessage"
        ),
        "ConA1B2C3D4": _res(
            "AWS::ApiGatewayV2::Route", "Ws/con", ApiId={"Ref": "WsA1B2C3D4"}, RouteKey="$connect"
        ),
    }
    (finding,) = run_check("api-no-auth", {}, resources)
    assert "$connect" in finding.message and "sendmessage" not in finding.message


def test_source_follows_self_attributes_and_default_options_across_methods() -> None:
    code = STACK_CODE + (
        "        self.api = apigw.RestApi(self, 'Orders')\n"
        "        self.admin = apigw.RestApi(self, 'Admin', default_method_options=apigw.MethodOptions(\n"
        "            authorization_type=apigw.AuthorizationType.IAM))\n"
        "        self._routes()\n"
        "    def _routes(self):\n"
        "        orders = self.api.root.add_resource('orders')\n"
        "        orders.add_method('GET', integration)\n"
        "        for verb in ['PUT', 'DELETE', 'OPTIONS']:\n"
        "            orders.add_resource('{id}').add_method(verb, integration)\n"
        "        self.admin.root.add_resource('users').add_method('GET', integration)\n"
        "        orders.add_method('POST', integration, **common_options)\n"
    )
    (finding,) = run_check("api-no-auth", {"lib/stack.py": code})
    assert finding.message == (
        "RestApi Orders: 3 methods with no authorizer, IAM auth or API key: GET /orders, PUT /orders/{id}, "
        "DELETE /orders/{id}"
    )


def test_unresolved_receiver_with_several_apis_is_skipped() -> None:
    code = STACK_CODE + (
        "        apigw.RestApi(self, 'One')\n"
        "        apigw.RestApi(self, 'Two')\n"
        "    def _route(self, resource):\n"
        "        resource.add_method('GET', integration)\n"
    )
    assert run_check("api-no-auth", {"lib/stack.py": code}) == []


# ---- cors-allow-all --------------------------------------------------------------------------


def _preflight(origin: str) -> dict[str, Any]:
    return _method(
        "OPTIONS",
        ROOT,
        AuthorizationType="NONE",
        Integration={
            "Type": "MOCK",
            "IntegrationResponses": [
                {
                    "StatusCode": "204",
                    "ResponseParameters": {"method.response.header.Access-Control-Allow-Origin": origin},
                }
            ],
        },
    )


def test_handler_header_joins_the_api_finding() -> None:
    code = (
        STACK_CODE
        + "        apigw.RestApi(self, 'Api', default_cors_preflight_options=apigw.CorsOptions(allow_origins=['*']))\n"
    )
    handler = "def handler(event, context):\n    return {'headers': {'Access-Control-Allow-Origin': '*'}, 'statusCode': 200}\n"
    resources = {**API, "OptA1B2C3D4": _preflight("'*'")}
    (finding,) = run_check("cors-allow-all", {"lib/stack.py": code, "lambda/index.py": handler}, resources)
    assert finding.lenses == ["source", "template"]
    assert {e.file for e in finding.evidence} == {None, "lib/stack.py", "lambda/index.py"}


def test_handler_header_alone_is_its_own_finding() -> None:
    handler = "def handler(event, context):\n    return {'headers': {'access-control-allow-origin': '*'}}\n"
    restricted = {**API, "OptA1B2C3D4": _preflight("'https://app.example.com'")}
    (finding,) = run_check("cors-allow-all", {"lambda/index.py": handler}, restricted)
    assert finding.message.startswith("Handler code returns") and finding.evidence[0].line == 2


def test_inline_node_code_header_is_evidence() -> None:
    code = (
        "from aws_cdk import Stack\n"
        "from aws_cdk import aws_apigateway as apigw\n"
        "from aws_cdk import aws_lambda as _lambda\n"
        "fn = _lambda.Function(self, 'Fn', runtime=_lambda.Runtime.NODEJS_20_X, handler='index.handler',\n"
        "    code=_lambda.Code.from_inline(\"exports.handler = async () => ({headers: {'Access-Control-Allow-Origin': '*'}})\"))\n"
        "apigw.LambdaRestApi(self, 'Api', handler=fn, default_cors_preflight_options={'allow_origins': apigw.Cors.ALL_ORIGINS})\n"
    )
    (finding,) = run_check("cors-allow-all", {"lib/stack.py": code})
    assert "RestApi Api" in finding.message
    assert [e.line for e in finding.evidence] == [6, 5]


def test_bucket_and_function_url_cors_in_the_template() -> None:
    resources = {
        "MediaA1B2C3D4": _res(
            "AWS::S3::Bucket",
            "Media",
            CorsConfiguration={
                "CorsRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://a.example.com", "*"]}]
            },
        ),
        "FnA1B2C3D4": _res("AWS::Lambda::Function", "Fn"),
        "FnUrlA1B2C3D4": _res(
            "AWS::Lambda::Url",
            "Fn/FunctionUrl",
            AuthType="AWS_IAM",
            TargetFunctionArn={"Fn::GetAtt": ["FnA1B2C3D4", "Arn"]},
            Cors={"AllowOrigins": ["*"]},
        ),
    }
    findings = sorted(f.message for f in run_check("cors-allow-all", {}, resources))
    assert findings == [
        "Bucket Media has a CORS rule with AllowedOrigins `*`",
        "Function URL of Fn allows CORS from origin `*`",
    ]


# ---- api-throttling-missing ------------------------------------------------------------------


def test_usage_plan_throttle_on_the_stage_by_ref_or_name() -> None:
    plan = _res(
        "AWS::ApiGateway::UsagePlan",
        "Api/Plan",
        ApiStages=[{"ApiId": {"Ref": "ApiA1B2C3D4"}, "Stage": "prod"}],
        Throttle={"RateLimit": 10, "BurstLimit": 20},
    )
    quota_only = _res(
        "AWS::ApiGateway::UsagePlan",
        "Api/Quota",
        ApiStages=[{"ApiId": {"Ref": "ApiA1B2C3D4"}, "Stage": {"Ref": "StageBetaA1B2C3D4"}, "Throttle": {}}],
        Quota={"Limit": 1000, "Period": "DAY"},
    )
    resources = {
        **API,
        "StageProdA1B2C3D4": _stage("prod"),
        "StageBetaA1B2C3D4": _stage(
            "beta", MethodSettings=[{"HttpMethod": "*", "ResourcePath": "/*", "MetricsEnabled": True}]
        ),
        "PlanA1B2C3D4": plan,
        "QuotaA1B2C3D4": quota_only,
    }
    (finding,) = run_check("api-throttling-missing", {}, resources)
    assert "stage beta" in finding.message and "stage prod" not in finding.message


def test_http_stage_route_settings_and_deployment_stage_description() -> None:
    resources = {
        **API,
        "DepA1B2C3D4": _res(
            "AWS::ApiGateway::Deployment",
            "Api/Dep",
            RestApiId={"Ref": "ApiA1B2C3D4"},
            StageName="v1",
            StageDescription={"ThrottlingRateLimit": 5},
        ),
        "HttpA1B2C3D4": _res("AWS::ApiGatewayV2::Api", "Http", ProtocolType="HTTP", Name="h"),
        "HttpStageA1B2C3D4": _res(
            "AWS::ApiGatewayV2::Stage",
            "Http/DefaultStage",
            ApiId={"Ref": "HttpA1B2C3D4"},
            StageName="$default",
            DefaultRouteSettings={"ThrottlingBurstLimit": 10},
        ),
    }
    assert run_check("api-throttling-missing", {}, resources) == []


def test_source_lens_stays_silent_when_it_cannot_tell() -> None:
    code = STACK_CODE + (
        "        apigw.RestApi(self, 'A', deploy_options=stage_options)\n"
        "        apigw.RestApi(self, 'B', deploy=False)\n"
    )
    assert run_check("api-throttling-missing", {"lib/stack.py": code}) == []
    with_plan = STACK_CODE + (
        "        api = apigw.RestApi(self, 'C')\n"
        "        api.add_usage_plan('Plan', throttle=apigw.ThrottleSettings(rate_limit=5, burst_limit=10))\n"
    )
    assert run_check("api-throttling-missing", {"lib/stack.py": with_plan}) == []
    (finding,) = run_check(
        "api-throttling-missing", {"lib/stack.py": STACK_CODE + "        apigw.RestApi(self, 'D')\n"}
    )
    assert finding.message.startswith("RestApi D: stage prod without throttling")


def test_handler_header_without_any_api_is_not_a_finding() -> None:
    handler = "def handler(event, context):\n    return {'headers': {'Access-Control-Allow-Origin': '*'}}\n"
    queue_only = {"QA1B2C3D4": _res("AWS::SQS::Queue", "Q")}
    assert run_check("cors-allow-all", {"lambda/index.py": handler}, queue_only) == []
    assert run_check("cors-allow-all", {"lambda/index.py": handler}) == []


def test_handler_cors_counts_only_code_a_handler_can_run() -> None:
    stack = (
        "from aws_cdk import Stack, aws_apigateway as apigw, aws_lambda as _lambda\n"
        "class Api(Stack):\n"
        "    def __init__(self, scope, cid):\n"
        "        super().__init__(scope, cid)\n"
        "        fn = _lambda.Function(self, 'Fn', runtime=_lambda.Runtime.PYTHON_3_12,\n"
        "            handler='handler.handler', code=_lambda.Code.from_asset('lambda'))\n"
        "        apigw.LambdaRestApi(self, 'Rest', handler=fn)\n"
    )
    helper = (
        "def format_response(status, body):\n"
        "    return {'statusCode': status, 'headers': {'Access-Control-Allow-Origin': '*'}, 'body': body}\n\n"
    )
    used = helper + "def handler(event, context):\n    return format_response(200, 'ok')\n"
    unused = helper + "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"

    def cors(handler_code: str) -> list[Finding]:
        ctx = make_context({"lib/api.py": stack, "lambda/handler.py": handler_code})
        return [f for f in run_checks(ctx) if f.check == "cors-allow-all"]

    assert any(e.file == "lambda/handler.py" for f in cors(used) for e in f.evidence)
    assert not any(e.file == "lambda/handler.py" for f in cors(unused) for e in f.evidence)
