import Crypto
import CryptoExtras
import Foundation

/// Salted scrypt password hashes: `scrypt$N$r$p$salt$hash` (base64 parts).
package struct PasswordHasher: Sendable {
    let cost: Int
    let blockSize = 8
    let parallelism = 1

    package init(cost: Int) {
        self.cost = cost
    }

    package func hash(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = UInt8.random(in: 0...255, using: &generator) }
        let key = try derive(password, salt: salt, cost: cost, blockSize: blockSize, parallelism: parallelism)
        return ["scrypt", "\(cost)", "\(blockSize)", "\(parallelism)", Data(salt).base64EncodedString(), key.base64EncodedString()]
            .joined(separator: "$")
    }

    package func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let cost = Int(parts[1]), let blockSize = Int(parts[2]),
              let parallelism = Int(parts[3]), let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]),
              let actual = try? derive(password, salt: [UInt8](salt), cost: cost, blockSize: blockSize, parallelism: parallelism)
        else { return false }
        // Constant-time comparison.
        guard actual.count == expected.count else { return false }
        return zip(actual, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private func derive(_ password: String, salt: [UInt8], cost: Int, blockSize: Int, parallelism: Int) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: cost, blockSize: blockSize, parallelism: parallelism
        )
        return key.withUnsafeBytes { Data($0) }
    }
}

/// Cognito's default password policy: 8+ characters with upper, lower, digit and symbol.
package enum PasswordPolicy {
    package static func violation(_ password: String) -> String? {
        if password.count < 8 { return "Password not long enough" }
        if !password.contains(where: \.isUppercase) { return "Password must have uppercase characters" }
        if !password.contains(where: \.isLowercase) { return "Password must have lowercase characters" }
        if !password.contains(where: \.isNumber) { return "Password must have numeric characters" }
        if !password.contains(where: { !$0.isLetter && !$0.isNumber && !$0.isWhitespace }) { return "Password must have symbol characters" }
        return nil
    }
}
