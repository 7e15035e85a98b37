/// Who made a request, taken only from a verified token (never from a header, path or body).
package struct Identity: Sendable, Equatable {
    package var userName: String
    package var groups: [String]

    package init(userName: String, groups: [String]) {
        self.userName = userName
        self.groups = groups
    }

    package var isAdmin: Bool { groups.contains("admin") }

    /// Whether this caller may act for `userName`: an admin, or the user themselves, compared byte
    /// for byte. Swift's `==` on strings is canonical equivalence (`\u{212A}` equals `K`), which
    /// Postgres and the other services do not share, so it must not decide ownership.
    package func mayActFor(_ userName: String) -> Bool {
        isAdmin || self.userName.utf8.elementsEqual(userName.utf8)
    }
}

/// The authorization checks every service makes itself, from the identity its own token check set.
extension AppRequestContext {
    /// The verified caller, or 401.
    package func requireCaller() throws -> Identity {
        guard let identity else { throw Problem.unauthorized("this needs a Bearer token") }
        return identity
    }

    /// 401 without a token, 403 for a caller outside the admin group.
    package func requireAdmin() throws {
        guard try requireCaller().isAdmin else { throw Problem.forbidden("this needs the admin group") }
    }

    /// 401 without a token, 403 unless the caller is `userName` or an admin.
    package func requireActing(for userName: String, field: String? = nil) throws {
        let caller = try requireCaller()
        guard caller.mayActFor(userName) else {
            throw Problem.forbidden("\(caller.userName) may not reach the data of another user", field: field)
        }
    }
}

/// Path segments that name a user (`/basket/{userName}`), decoded the same way in the gateway and
/// in the services so that both decide on the same name.
package enum PathUserName {
    /// Strict percent-decoding of one raw path segment: every `%` starts two hex digits, the result
    /// is valid UTF-8 and a valid user name (`UserNameRules`); anything else is `nil` (a 400).
    package static func decode(_ raw: some StringProtocol) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.utf8.count)
        var iterator = raw.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        guard let name = String(validating: bytes, as: UTF8.self), UserNameRules.isValid(name) else { return nil }
        return name
    }

    /// The decoded user name of a route parameter, or a 400 naming it.
    package static func parameter(_ context: AppRequestContext, _ name: String = "userName") throws -> String {
        guard let raw = context.parameters.get(name), let decoded = decode(raw) else {
            throw Problem.badRequest("\(name) is not a valid user name", field: name)
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
