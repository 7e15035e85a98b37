#!/usr/bin/env python3
"""Declares a bus topology in a running moto server (or any EventBridge/SQS endpoint): the event
bus, each queue with its redrive policy, and the rules targeting the queues. The topology is the
JSON that `bus topology` prints (rendered from Shared/Contracts/Topology.swift), so nothing here
names a queue or an event. Prints {"queues": {name: url}} as JSON.

    bus topology --visibility-timeout 30 | python3 scripts/moto_bus.py http://127.0.0.1:5000
    python3 scripts/moto_bus.py http://127.0.0.1:5000 topology.json
"""
import json
import sys

import boto3

endpoint = sys.argv[1]
topology = json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)
common = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
sqs = boto3.client("sqs", **common)
events = boto3.client("events", **common)

bus = topology["eventBusName"]
events.create_event_bus(Name=bus)
urls, arns = {}, {}
# Dead-letter queues first: a queue's redrive policy names its dead-letter queue's ARN.
for queue in sorted(topology["queues"], key=lambda q: "deadLetterQueue" in q):
    attributes = {"VisibilityTimeout": str(queue["visibilityTimeoutSeconds"])}
    if "deadLetterQueue" in queue:
        attributes["RedrivePolicy"] = json.dumps({
            "deadLetterTargetArn": arns[queue["deadLetterQueue"]], "maxReceiveCount": str(queue["maxReceiveCount"]),
        })
    else:
        attributes["MessageRetentionPeriod"] = "1209600"
    url = sqs.create_queue(QueueName=queue["name"], Attributes=attributes)["QueueUrl"]
    urls[queue["name"]] = url
    arns[queue["name"]] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
for rule in topology["rules"]:
    events.put_rule(Name=rule["name"], EventBusName=bus, EventPattern=json.dumps(rule["eventPattern"]))
    events.put_targets(Rule=rule["name"], EventBusName=bus, Targets=[{"Id": rule["targetQueue"], "Arn": arns[rule["targetQueue"]]}])
print(json.dumps({"queues": urls}))
