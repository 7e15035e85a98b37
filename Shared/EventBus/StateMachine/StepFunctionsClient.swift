import AWS
import AsyncHTTPClient
import Foundation

/// The AWS Step Functions actions the shop calls (JSON 1.0, `AWSStepFunctions.*`, SigV4 like the other
/// AWS adapters): start and stop an order's execution, and answer a task token.
package struct StepFunctionsClient: Sendable {
    let client: AWSJSONClient

    package init(client: AWSJSONClient) {
        self.client = client
    }

    /// Step Functions at `AWS_ENDPOINT_URL_SFN` (else `AWS_ENDPOINT_URL`, else the region's endpoint).
    package init(environment: [String: String], credentials: CredentialsProvider, httpClient: HTTPClient) {
        self.init(client: AWSJSONClient(
            endpoint: AWSEndpoint(service: "SFN", signingName: "states", hostPrefix: "states", environment: environment),
            targetPrefix: "AWSStepFunctions", contentType: "application/x-amz-json-1.0", credentials: credentials, httpClient: httpClient
        ))
    }

    /// The ARN of the execution called `name` of `stateMachineArn`.
    package static func executionArn(stateMachineArn: String, name: String) -> String {
        stateMachineArn.replacingOccurrences(of: ":stateMachine:", with: ":execution:") + ":" + name
    }

    /// Starts the execution `name`; one of that name that exists already counts as started (a
    /// redelivered start meets `ExecutionAlreadyExists`, or the same ARN for the same input).
    /// Returns the execution's ARN.
    @discardableResult
    package func startExecution(stateMachineArn: String, name: String, input: String) async throws -> String {
        do {
            let answer = try await client.call("StartExecution", ["stateMachineArn": stateMachineArn, "name": name, "input": input])
            return answer["executionArn"] as? String ?? Self.executionArn(stateMachineArn: stateMachineArn, name: name)
        } catch let error as AWSError where error.code.hasSuffix("ExecutionAlreadyExists") {
            return Self.executionArn(stateMachineArn: stateMachineArn, name: name)
        }
    }

    /// Stops an execution; one that already ended (or never started) is left as it is.
    package func stopExecution(executionArn: String, error: String, cause: String) async throws {
        do {
            _ = try await client.call("StopExecution", ["executionArn": executionArn, "error": error, "cause": cause])
        } catch let failure as AWSError where failure.code.hasSuffix("ExecutionDoesNotExist") {
        }
    }

    /// Answers a task token with `output` (JSON text). False when nobody waits for it any more (the
    /// step timed out, the execution stopped, or it was answered already): the answer is then moot.
    package func sendTaskSuccess(token: String, output: String) async throws -> Bool {
        try await answering { _ = try await client.call("SendTaskSuccess", ["taskToken": token, "output": output]) }
    }

    /// Answers a task token with a failure: `error` is what the state machine's `Catch` matches.
    package func sendTaskFailure(token: String, error: String, cause: String) async throws -> Bool {
        try await answering { _ = try await client.call("SendTaskFailure", ["taskToken": token, "error": error, "cause": cause]) }
    }

    /// The errors that say a token is no longer waited for.
    static let mootCodes = ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken", "ExecutionDoesNotExist"]

    private func answering(_ call: () async throws -> Void) async throws -> Bool {
        do {
            try await call()
            return true
        } catch let error as AWSError where Self.mootCodes.contains(where: { error.code.hasSuffix($0) }) {
            return false
        }
    }
}
