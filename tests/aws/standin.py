"""A local AWS for the `doctor --aws` tests.

moto runs in server mode inside this process; in front of it a small proxy on 127.0.0.1
records every operation it is asked (service, operation, HTTP method) to a JSON-lines file,
serves the two things moto lacks (GuardDuty's publishing destinations and IAM's
SimulatePrincipalPolicy), and forwards everything else to moto. The SDK reaches the proxy
through AWS_ENDPOINT_URL. Before it listens, the script seeds one "world" into moto with
boto3, talking to moto directly so that seeding is never recorded.

Usage: standin.py --world NAME --record FILE   (prints "READY http://127.0.0.1:PORT")
Worlds: healthy, key-policy-without-role, key-wrong-region, notification-one-account,
queue-policy-without-s3, trust-pinned-old-prefix, and hostile-key-policy-sid: the key policy
without the role, its account statement's Sid (free text in a key policy, written by whoever
may put the key policy) holding an Azure Pipelines logging command.
"""

import argparse
import http.client
import json
import os
import re
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

# The account of the local workspace's scenarios, so that a real `validate` result correlates.
ACCOUNT = "111122223333"
MEMBER = "444455556666"
os.environ["MOTO_ACCOUNT_ID"] = ACCOUNT

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

REGION = "eu-west-1"
ROLE_NAME = "OIDC_MicrosoftSentinelRole"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
BUCKET = f"guardduty-findings-{ACCOUNT}"
QUEUE = "guardduty-findings-queue"
TENANT = "33e01921-4d64-4f8c-a055-5bdaffd5e33d"
AUDIENCE = "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/sts.windows.net/{TENANT}/"
WORKSPACE = "00000000-0000-0000-0000-000000000001"
WORLDS = [
    "healthy",
    "key-policy-without-role",
    "key-wrong-region",
    "notification-one-account",
    "queue-policy-without-s3",
    "trust-pinned-old-prefix",
    "hostile-key-policy-sid",
]
# The worlds whose key policy and IAM policies leave the role out.
WITHOUT_ROLE = ("key-policy-without-role", "hostile-key-policy-sid")
HOSTILE_SID = "EnableIamPolicies ##vso[task.setvariable variable=x]1"


def key_policy(key_account, include_role, account_sid="EnableIamPolicies"):
    statements = [
        {
            "Sid": account_sid,
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{key_account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AllowGuardDutyExport",
            "Effect": "Allow",
            "Principal": {"Service": "guardduty.amazonaws.com"},
            "Action": "kms:GenerateDataKey",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "StringLike": {"aws:SourceArn": f"arn:aws:guardduty:*:{ACCOUNT}:detector/*"},
            },
        },
    ]
    if include_role:
        statements.append(
            {
                "Sid": "AllowSentinelConnectorDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": ROLE_ARN},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def seed(world, moto_url):
    """Seeds moto and returns the stand-in's own state: destinations and simulator answers."""

    def client(service, region=REGION):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=moto_url,
            aws_access_key_id="seed",
            aws_secret_access_key="seed",
        )

    key_region = "us-east-1" if world == "key-wrong-region" else REGION
    kms = client("kms", key_region)
    key = kms.create_key(
        Description="GuardDuty findings export",
        KeyUsage="ENCRYPT_DECRYPT",
        Policy=json.dumps(key_policy(
            ACCOUNT,
            world not in WITHOUT_ROLE,
            HOSTILE_SID if world == "hostile-key-policy-sid" else "EnableIamPolicies",
        )),
    )["KeyMetadata"]
    key_arn = key["Arn"]

    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": False,
                }
            ]
        },
    )
    accounts = [ACCOUNT, MEMBER] if world == "notification-one-account" else [ACCOUNT]
    for account in accounts:
        for day in ("02", "03"):
            s3.put_object(
                Bucket=BUCKET,
                Key=f"AWSLogs/{account}/GuardDuty/{REGION}/2026/12/{day}/{uuid.uuid4()}.jsonl.gz",
                Body=b"{}",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=key_arn,
            )

    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"
    statements = [
        {
            "Sid": "AllowSentinelConnectorPoll",
            "Effect": "Allow",
            "Principal": {"AWS": ROLE_ARN},
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                       "sqs:GetQueueUrl"],
            "Resource": queue_arn,
        }
    ]
    if world != "queue-policy-without-s3":
        statements.insert(
            0,
            {
                "Sid": "AllowS3BucketNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SQS:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            },
        )
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": statements})},
    )
    prefix = f"AWSLogs/{ACCOUNT}/GuardDuty/" if world == "notification-one-account" else "AWSLogs/"
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "GuardDutyFindings",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": prefix},
                                {"Name": "suffix", "Value": ".gz"},
                            ]
                        }
                    },
                }
            ]
        },
    )
    # Setting the notification sends a test event: the connector would have consumed it.
    sqs.purge_queue(QueueUrl=queue_url)

    iam = client("iam", "us-east-1")
    iam.create_open_id_connect_provider(
        Url=f"https://sts.windows.net/{TENANT}/",
        ClientIDList=[AUDIENCE],
        ThumbprintList=["626d44e704d1ceabe3bf0d53397464ac8080142c"],
    )
    session = (
        {"StringEquals": {"sts:RoleSessionName": f"MicrosoftSentinel_{WORKSPACE}"}}
        if world == "trust-pinned-old-prefix"
        else {"StringLike": {"sts:RoleSessionName": ["MicrosoftSentinel_*",
                                                     "MicrosoftDefenderForClouds_*"]}}
    )
    condition = {"StringEquals": {f"sts.windows.net/{TENANT}/:aud": AUDIENCE}}
    for operator, keys in session.items():
        condition.setdefault(operator, {}).update(keys)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    read = [
        {"Sid": "ReadExport", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        {"Sid": "PollQueue", "Effect": "Allow",
         "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueUrl"],
         "Resource": queue_arn},
    ]
    if world not in WITHOUT_ROLE:
        read.append({"Sid": "DecryptExport", "Effect": "Allow",
                     "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": key_arn})
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="SentinelConnectorRead",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": read}),
    )

    detector = client("guardduty").create_detector(
        Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES"
    )["DetectorId"]
    denied = (
        {"kms:Decrypt", "kms:DescribeKey"} if world in WITHOUT_ROLE else set()
    )
    return {
        "destinations": {
            detector: {
                "dest-1": {
                    "destinationId": "dest-1",
                    "destinationType": "S3",
                    "status": "PUBLISHING",
                    "publishingFailureStartTimestamp": 0,
                    "destinationProperties": {
                        "destinationArn": f"arn:aws:s3:::{BUCKET}",
                        "kmsKeyArn": key_arn,
                    },
                }
            }
        },
        "denied_actions": denied,
    }


S3_SUBRESOURCES = {
    "location": "GetBucketLocation",
    "encryption": "GetBucketEncryption",
    "notification": "GetBucketNotificationConfiguration",
    "policy": "GetBucketPolicy",
    "acl": "GetBucketAcl",
}


def operation_of(method, path, query, headers, body):
    """(service, operation) of a signed request, as the recording needs them."""
    match = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("Authorization", ""))
    service = match.group(1) if match else "unknown"
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.split(".")[-1]
    if service in ("iam", "sts"):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return service, form.get("Action", ["unknown"])[0]
    if service == "s3":
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        segments = [s for s in path.split("/") if s]
        if method == "GET" and len(segments) == 1:
            for name, operation in S3_SUBRESOURCES.items():
                if name in params:
                    return service, operation
            return service, "ListObjectsV2" if "list-type" in params else "ListObjects"
        if method == "HEAD":
            return service, "HeadObject" if len(segments) > 1 else "HeadBucket"
        if method == "GET":
            return service, "GetObject"
        return service, f"{method}:{path}"
    if service == "guardduty":
        segments = [s for s in path.split("/") if s]
        if method != "GET":
            return service, f"{method}:{path}"
        names = {
            1: "ListDetectors",
            2: "GetDetector",
        }
        if len(segments) in names:
            return service, names[len(segments)]
        if segments[2] == "publishingDestination":
            return service, ("ListPublishingDestinations" if len(segments) == 3
                             else "DescribePublishingDestination")
        if segments[2] == "administrator":
            return service, "GetAdministratorAccount"
        return service, f"GET:{path}"
    return service, f"{method}:{path}"


def simulation_xml(form, denied):
    actions = [v[0] for k, v in sorted(form.items()) if k.startswith("ActionNames.member.")]
    resources = [v[0] for k, v in sorted(form.items()) if k.startswith("ResourceArns.member.")]
    members = []
    for action in actions:
        for resource in resources or ["*"]:
            decision = "implicitDeny" if action in denied else "allowed"
            members.append(
                "<member>"
                f"<EvalActionName>{escape(action)}</EvalActionName>"
                f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
                f"<EvalDecision>{decision}</EvalDecision>"
                "<MatchedStatements/><MissingContextValues/>"
                "<OrganizationsDecisionDetail><AllowedByOrganizations>true"
                "</AllowedByOrganizations></OrganizationsDecisionDetail>"
                "</member>"
            )
    return (
        '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
        f"<EvaluationResults>{''.join(members)}</EvaluationResults>"
        "</SimulatePrincipalPolicyResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</SimulatePrincipalPolicyResponse>"
    ).encode()


def make_handler(moto_host, moto_port, state, record):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            service, operation = operation_of(self.command, path, query, self.headers, body)
            entry = {"service": service, "operation": operation, "method": self.command,
                     "path": path}
            if service == "iam" and operation == "SimulatePrincipalPolicy":
                form = urllib.parse.parse_qs(body.decode())
                entry["actions"] = [v[0] for k, v in sorted(form.items())
                                    if k.startswith("ActionNames.member.")]
                entry["resources"] = [v[0] for k, v in sorted(form.items())
                                      if k.startswith("ResourceArns.member.")]
            with lock:
                record.write(json.dumps(entry) + "\n")
                record.flush()
            if service == "iam" and operation == "SimulatePrincipalPolicy":
                return self.reply(200, "text/xml", simulation_xml(form, state["denied_actions"]))
            if service == "guardduty" and operation in (
                "ListPublishingDestinations", "DescribePublishingDestination"
            ):
                return self.publishing_destination(path)
            self.forward(body)

        def publishing_destination(self, path):
            segments = [s for s in path.split("/") if s]
            destinations = state["destinations"].get(segments[1])
            if destinations is None:
                return self.reply(400, "application/json", json.dumps(
                    {"message": "The request is rejected because the input detectorId is not "
                                "owned by the current account.", "__type": "BadRequestException"}
                ).encode())
            if len(segments) == 3:
                listed = [{"destinationId": d["destinationId"], "destinationType": "S3",
                           "status": d["status"]} for d in destinations.values()]
                return self.reply(200, "application/json",
                                  json.dumps({"destinations": listed}).encode())
            found = destinations.get(segments[3])
            if found is None:
                return self.reply(400, "application/json", json.dumps(
                    {"message": "The request is rejected because the destination does not "
                                "exist.", "__type": "BadRequestException"}).encode())
            return self.reply(200, "application/json", json.dumps(found).encode())

        def forward(self, body):
            connection = http.client.HTTPConnection(moto_host, moto_port, timeout=30)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("connection", "transfer-encoding")}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("connection", "transfer-encoding", "content-length",
                                        "date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            connection.close()

        def reply(self, status, content_type, data):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", choices=WORLDS, required=True)
    parser.add_argument("--record", required=True, help="JSON-lines file of every operation")
    args = parser.parse_args()

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_host, moto_port = moto.get_host_and_port()
    state = seed(args.world, f"http://{moto_host}:{moto_port}")
    record = open(args.record, "a", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 make_handler(moto_host, moto_port, state, record))
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        record.close()
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
