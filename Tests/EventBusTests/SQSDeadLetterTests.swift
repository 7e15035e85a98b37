import AWS
import Contracts
import AsyncHTTPClient
import EventBus
import Foundation
import Logging
import Testing
import TestSupport

/// Against a real moto server: a permanent failure moves an SQS message to the queue's redrive
/// target at once, with its reason as a message attribute.
@Suite struct SQSDeadLetterTests {
    @Test func aPermanentFailureGoesToTheRedriveTargetWithItsReason() async throws {
        try await withMotoServer { endpoint in
            let queues = try await declareTopology(try JSONValue.encoder.encode(BusTopology.shop().json), inMoto: endpoint)
            let environment = ["AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"]
            let logger = Logger(label: "sqs-dlq-test")
            let client = AWSJSONClient(
                endpoint: AWSEndpoint(service: "SQS", signingName: "sqs", hostPrefix: "sqs", environment: environment),
                targetPrefix: "AmazonSQS", contentType: "application/x-amz-json-1.0",
                credentials: CredentialsProvider(environment: environment, httpClient: HTTPClient.shared, logger: logger), httpClient: HTTPClient.shared
            )
            let queue = SQSQueue(client: client, queue: ShopQueues.orderingCheckout)
            _ = try await client.call("SendMessage", ["QueueUrl": try #require(queues["ordering-checkout"]), "MessageBody": #"{"poison":true}"#])
            let received = try await queue.receive(maxMessages: 1, waitTime: .seconds(5), visibilityTimeout: nil)
            let message = try #require(received.first)
            #expect(try await queue.deadLetter(message, reason: "unprocessable event: test"))

            let dead = try await client.call("ReceiveMessage", [
                "QueueUrl": try #require(queues["ordering-checkout-dlq"]), "MaxNumberOfMessages": 10, "WaitTimeSeconds": 2,
                "MessageAttributeNames": ["All"],
            ])
            let messages = dead["Messages"] as? [[String: Any]] ?? []
            #expect(messages.count == 1)
            #expect(messages.first?["Body"] as? String == #"{"poison":true}"#)
            let reason = (messages.first?["MessageAttributes"] as? [String: Any])?["DeadLetterReason"] as? [String: Any]
            #expect(reason?["StringValue"] as? String == "unprocessable event: test")
            let left = try await queue.receive(maxMessages: 10, waitTime: .seconds(1), visibilityTimeout: .seconds(0))
            #expect(left.isEmpty, "the message left the source queue")
        }
    }
}
