import Contracts
import EventBus
import Foundation
import Testing
import TestSupport
import Yams

/// The list of services is declared once (Shared/Contracts/Services.swift). The local runner reads
/// it (`bus services`); the database bootstrap, the compose file and the CloudFormation template
/// cannot, so these tests fail when one of them lacks a service or disagrees on a port or database.
@Suite struct ServiceListTests {
    static func file(_ path: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
    }

    /// Each service creates its own database (`DatabaseBootstrap`); nothing else keeps a list of them.
    @Test func noListOfDatabasesIsKeptOutsideTheServices() throws {
        let compose = try Self.file("docker-compose.yml")
        #expect(!compose.contains("docker-entrypoint-initdb.d"), "the compose file must not create databases by hand")
        let postgres = try Self.file("scripts/postgres.sh")
        for database in ShopService.databases where database != "postgres" {
            #expect(!postgres.contains("CREATE DATABASE \(database)") && !postgres.contains(" \(database) "), "postgres.sh names database \(database)")
        }
    }

    @Test func theComposeFileRunsEveryService() throws {
        let compose = try #require(try Yams.load(yaml: try Self.file("docker-compose.yml")) as? [String: Any])
        let services = try #require(compose["services"] as? [String: Any])
        for service in ShopService.all {
            let entry = try #require(services[service.executable] as? [String: Any], "docker-compose.yml has no service \(service.executable)")
            #expect(entry["command"] as? [String] == [service.executable], "\(service.executable): command")
            let environment = entry["environment"] as? [String: Any] ?? [:]
            #expect("\(environment["PORT"] ?? "")" == String(service.port), "\(service.executable): PORT")
            if let database = service.database {
                // Its own role (made by database-setup), never the administrator's.
                let url = environment["DATABASE_URL"] as? String ?? ""
                #expect(url.hasPrefix("postgres://\(database):${\(database.uppercased())_DATABASE_PASSWORD:-") && url.hasSuffix("/\(database)"), "\(service.executable): DATABASE_URL \(url)")
                let dependsOn = entry["depends_on"] as? [String: Any] ?? [:]
                #expect(dependsOn.keys.contains("database-setup") || dependsOn.keys.contains(ShopService.product.executable), "\(service.executable) starts after database-setup")
            }
            #expect(!"\(environment)".contains("POSTGRES_PASSWORD"), "\(service.executable) is given the administrator's password")
        }
        // The one-shot set-up: every database gets its role, with the password the service uses.
        let setup = try #require(services["database-setup"] as? [String: Any])
        #expect(setup["command"] as? [String] == ["bus", "databases"])
        let setupEnvironment = setup["environment"] as? [String: Any] ?? [:]
        for database in ShopService.databases {
            let key = "\(database.uppercased())_DATABASE_PASSWORD"
            #expect("\(setupEnvironment[key] ?? "")".hasPrefix("${\(key):-"), "database-setup sets \(key)")
        }
        let gateway = (services[ShopService.gateway.executable] as? [String: Any])?["environment"] as? [String: Any] ?? [:]
        for upstream in ShopRoutes.upstreams {
            #expect((gateway[upstream.urlSetting] as? String)?.hasSuffix(":\(upstream.port)") == true, "the gateway's \(upstream.urlSetting)")
        }
    }

    @Test func theTemplateRunsEveryServiceOnAWS() throws {
        let template = try Self.file("deploy/aws/template.yaml")
        // identity is the local stand-in for Cognito: the template has a user pool instead.
        for service in ShopService.all where service != .identity {
            #expect(template.contains("Command: [\(service.executable)]"), "deploy/aws/template.yaml runs no \(service.executable)")
            #expect(template.contains("ContainerPort: \(service.port)}"), "deploy/aws/template.yaml: \(service.executable) on \(service.port)")
        }
        for upstream in ShopRoutes.upstreams {
            #expect(template.contains("{Name: \(upstream.urlSetting), Value: \"http://\(upstream.name).swn.local:\(upstream.port)\"}"), "the gateway's \(upstream.urlSetting)")
        }
        // Each service on the bus runs with its own task role (rendered from the topology), none with another's.
        for consumer in Set(BusTopology.shop().queues.map(\.consumer)) {
            let role = "TaskRoleArn: !GetAtt \(BusTopology.logicalID(role: consumer)).Arn"
            #expect(template.components(separatedBy: role).count == 2, "\(consumer)'s task uses its own role exactly once")
            #expect(template.contains("Command: [\(consumer)]"))
        }
    }

    /// Every task verifies tokens against the stack's own pool (a task without COGNITO_* would stop at
    /// start in aws mode), and the load balancer serves HTTPS only: port 80 redirects.
    @Test func theTemplateTrustsOnlyItsPoolAndServesHTTPSOnly() throws {
        let template = try Self.file("deploy/aws/template.yaml")
        // The services' tasks (the database set-up task runs `bus`, has no role and verifies no tokens).
        let tasks = template.components(separatedBy: "ContainerDefinitions:").dropFirst().filter { !$0.contains("Command: [bus, databases") }
        #expect(tasks.count == ShopService.all.count - 1, "one task definition per service but identity")
        for task in tasks {
            let body = task.components(separatedBy: "LogConfiguration:").first ?? task
            #expect(body.contains("{Name: BUS_MODE, Value: aws}"), "\(body.prefix(80))")
            #expect(body.contains("{Name: COGNITO_ISSUER, Value: !Sub \"https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}\"}"), "\(body.prefix(80))")
            #expect(body.contains("{Name: COGNITO_CLIENT_ID, Value: !Ref UserPoolClient}"), "\(body.prefix(80))")
        }
        #expect(template.contains("Protocol: HTTPS") && template.contains("Certificates: [{CertificateArn: !Ref CertificateArn}]"))
        #expect(template.contains("RedirectConfig: {Protocol: HTTPS"))
        #expect(!template.contains("{Type: forward, TargetGroupArn: !Ref GatewayTargetGroup}") || template.components(separatedBy: "Type: forward").count == 2, "one forwarding listener (HTTPS)")
        #expect(template.contains("Value: !Sub \"https://${LoadBalancer.DNSName}\""))
    }

    /// Each service's task connects as its own role with its own secret, over TLS verified against the
    /// RDS CA; only the set-up task sees the master password, and it provisions every service database.
    @Test func theTemplateGivesEachServiceItsOwnDatabaseRole() throws {
        let template = try Self.file("deploy/aws/template.yaml")
        let tasks = template.components(separatedBy: "ContainerDefinitions:").dropFirst()
        let databases = ShopService.all.filter { $0 != .identity }.compactMap(\.database)
        for database in databases {
            let secret = database.prefix(1).uppercased() + database.dropFirst() + "DatabaseSecret"
            let task = try #require(tasks.first { $0.contains("postgres://\(database)@${Database.Endpoint.Address}:5432/\(database)") }, "no task connects as \(database)")
            #expect(task.contains("{Name: DATABASE_PASSWORD, ValueFrom: !Sub \"${\(secret)}:password::\"}"), "\(database): its own secret")
            #expect(task.contains("{Name: DATABASE_TLS, Value: verify-full}") && task.contains("DATABASE_TLS_CA_FILE"), "\(database): verify-full")
            #expect(template.contains("  \(secret):\n    Type: AWS::SecretsManager::Secret"))
        }
        let master = "${DatabaseSecret}:password::"
        let withMaster = tasks.filter { $0.contains(master) }
        #expect(withMaster.count == 1 && withMaster.first?.contains("Command: [bus, databases, \(databases.joined(separator: ", "))]") == true,
                "only the set-up task sees the master password, and it provisions every service database")
        #expect(!template.contains("postgres://swn@${Database.Endpoint.Address}:5432/product"))
    }

    @Test func theLocalRunnerTakesTheListFromBus() throws {
        let script = try Self.file("scripts/run-local.sh")
        #expect(script.contains("\"$BIN/bus\" services"))
        for service in ShopService.all {
            #expect(!script.contains("$BIN/\(service.executable)") && !script.contains("start \(service.executable)"), "run-local.sh starts \(service.executable) by name")
        }
    }
}
