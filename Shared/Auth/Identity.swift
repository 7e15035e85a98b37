/// Who made a request, as the gateway verified it.
package struct Identity: Sendable, Equatable {
    package var userName: String
    package var groups: [String]

    package init(userName: String, groups: [String]) {
        self.userName = userName
        self.groups = groups
    }

    package var isAdmin: Bool { groups.contains("admin") }

    /// Headers the gateway sets on every proxied request (after deleting any a client sent).
    package enum Header {
        package static let user = "X-Swn-User"
        package static let groups = "X-Swn-Groups"
        /// Every header starting with this prefix is the gateway's alone.
        package static let reservedPrefix = "x-swn-"
    }
}
