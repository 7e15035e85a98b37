#!/usr/bin/env python3
"""Declares the shop's bus topology (Shared/EventBus/BusTopology.swift) in a running moto server:
the SwnEventBus event bus, each queue with its dead-letter queue and redrive policy, and the rules
targeting the queues. Prints {"queues": {name: url}} as JSON. Used by the aws-mode tests.

    python3 scripts/moto_bus.py http://127.0.0.1:5000 [visibility-timeout-seconds] [max-receive-count]
"""
import json
import sys

import boto3

endpoint = sys.argv[1]
visibility = sys.argv[2] if len(sys.argv) > 2 else "30"
max_receive = sys.argv[3] if len(sys.argv) > 3 else "5"
common = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
sqs = boto3.client("sqs", **common)
events = boto3.client("events", **common)

bus = "SwnEventBus"
events.create_event_bus(Name=bus)
rules = {
    "ordering-checkout": ("CheckoutBasketToOrdering", {"source": ["com.swn.basket.checkoutbasket"], "detail-type": ["CheckoutBasket"]}),
    "basket-catalog": ("CatalogChangesToBasket", {"source": ["com.swn.product"],
                                                   "detail-type": ["ProductCreated", "ProductPriceChanged", "ProductDeleted"]}),
}
urls = {}
for queue, (rule, pattern) in rules.items():
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=queue, Attributes={
        "VisibilityTimeout": visibility,
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}),
    })["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": queue, "Arn": arn}])
    urls[queue] = url
    urls[f"{queue}-dlq"] = dlq_url
print(json.dumps({"queues": urls}))
