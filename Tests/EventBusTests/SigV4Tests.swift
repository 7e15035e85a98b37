import AWS
import Foundation
import Testing
import TestSupport

/// Our SigV4 signatures against botocore's for the same requests.
@Suite struct SigV4Tests {
    static func botocoreSignature(method: String, url: String, headers: [String: String], body: String, service: String, session: String?) throws -> String {
        let script = """
            import json, sys
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            spec = json.load(sys.stdin)
            request = AWSRequest(method=spec["method"], url=spec["url"], data=spec["body"].encode(), headers=spec["headers"])
            request.context["timestamp"] = spec["headers"]["X-Amz-Date"]
            auth = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", spec["session"]), spec["service"], "us-east-1")
            if spec["session"]:
                request.headers["X-Amz-Security-Token"] = spec["session"]
            canonical = auth.canonical_request(request)
            print(auth.signature(auth.string_to_sign(request, canonical), request))
            """
        var spec: [String: Any] = ["method": method, "url": url, "headers": headers, "body": body, "service": service]
        spec["session"] = session ?? NSNull()
        return try runPython(script, input: spec)
    }

    @Test(arguments: [
        ("POST", "https://sqs.us-east-1.amazonaws.com/", "sqs", #"{"QueueName":"ordering-checkout"}"#, nil as String?),
        ("POST", "https://events.us-east-1.amazonaws.com/", "events", #"{"Entries":[{"Source":"a b","Detail":"{}"}]}"#, "SESSIONTOKEN"),
        ("GET", "http://127.0.0.1:5000/some%20path/x?b=2&a=1&a=0&c=%2F", "sqs", "", nil),
    ])
    func matchesBotocore(method: String, url: String, service: String, body: String, session: String?) throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000)
        let target = URL(string: url)!
        let host = target.port.map { "\(target.host!):\($0)" } ?? target.host!
        let headers = ["host": host, "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.GetQueueUrl"]
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: session),
            region: "us-east-1", service: service
        )
        let added = signer.sign(method: method, url: target, headers: headers, body: Data(body.utf8), date: date)
        let ours = try #require(added["Authorization"]?.components(separatedBy: "Signature=").last)
        var botoHeaders = ["Host": host, "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.GetQueueUrl"]
        botoHeaders["X-Amz-Date"] = added["X-Amz-Date"]
        let theirs = try Self.botocoreSignature(method: method, url: url, headers: botoHeaders, body: body, service: service, session: session)
        #expect(ours == theirs)
        #expect(added["X-Amz-Date"] == "20261118T110640Z")
    }
}
