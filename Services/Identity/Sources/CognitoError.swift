import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// An error in the Cognito JSON protocol: `{"__type": ..., "message": ...}` with `x-amzn-ErrorType`.
package struct CognitoError: ProtocolError {
    package var type: String
    package var message: String
    package var status: HTTPResponse.Status

    package init(_ type: String, _ message: String, status: HTTPResponse.Status = .badRequest) {
        self.type = type
        self.message = message
        self.status = status
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: ["__type": type, "message": message])
        return Response(
            status: status,
            headers: [
                .contentType: "application/x-amz-json-1.1",
                HTTPField.Name("x-amzn-ErrorType")!: "\(type):",
                .contentLength: String(data.count),
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func notAuthorized(_ message: String = "Incorrect username or password.") -> CognitoError { .init("NotAuthorizedException", message) }
    static func userNotFound() -> CognitoError { .init("UserNotFoundException", "User does not exist.") }
    static func userExists() -> CognitoError { .init("UsernameExistsException", "User already exists") }
    static func invalidPassword(_ message: String) -> CognitoError { .init("InvalidPasswordException", "Password did not conform with policy: \(message)") }
    static func invalidParameter(_ message: String) -> CognitoError { .init("InvalidParameterException", message) }
    static func resourceNotFound(_ message: String) -> CognitoError { .init("ResourceNotFoundException", message) }
}
