import Contracts
import EventBus
import Foundation
import ServiceKit
import Testing

@testable import ProductService

/// An admin's edit and the catalog events, decided without a database.
@Suite struct CatalogRulesTests {
    static let lamp = Product(
        id: UUID(), name: "Lamp", description: "bright", imageFile: "lamp.png", price: 10, category: "Home",
        stock: 5, version: 3, createdAt: Date(timeIntervalSince1970: 0), updatedAt: Date(timeIntervalSince1970: 0)
    )

    static func input(price: Decimal = 10, stock: Int? = nil, stockDelta: Int? = nil) -> ProductInput {
        var input = ProductInput(name: "Lamp 2", price: price, category: "Light", stock: stock)
        input.stockDelta = stockDelta
        return input
    }

    @Test func anEditIsTheNextVersionWithTheGivenFieldsAndStock() throws {
        guard case .updated(let after) = try CatalogRules.edit(Self.lamp, with: Self.input(price: 12, stockDelta: -2), expected: Self.lamp.tag) else {
            Issue.record("refused"); return
        }
        #expect(after.version == 4)
        #expect(after.stock == 3)
        #expect(after.name == "Lamp 2" && after.category == "Light" && after.price == 12)
        #expect(after.description == "" && after.imageFile == "", "fields left out are cleared, as a PUT does")
        #expect(after.id == Self.lamp.id && after.createdAt == Self.lamp.createdAt)
        guard case .updated(let set) = try CatalogRules.edit(Self.lamp, with: Self.input(stock: 40), expected: nil) else { Issue.record("refused"); return }
        #expect(set.stock == 40)
    }

    @Test func anOldTagOrAStockBelowZeroIsRefusedWithTheProductAsItIs() throws {
        var old = Self.lamp.tag
        old.version -= 1
        #expect(try CatalogRules.edit(Self.lamp, with: Self.input(), expected: old) == .changedMeanwhile(Self.lamp))
        var sold = Self.lamp.tag
        sold.stock -= 1
        #expect(try CatalogRules.edit(Self.lamp, with: Self.input(), expected: sold) == .changedMeanwhile(Self.lamp), "a sale since the read")
        #expect(try CatalogRules.edit(Self.lamp, with: Self.input(stockDelta: -6), expected: nil) == .stockWouldBeNegative(Self.lamp))
        #expect(throws: Problem.self) { try CatalogRules.edit(Self.lamp, with: Self.input(stockDelta: ProductInput.maximumStock), expected: nil) }
        #expect(throws: Problem.self) { try CatalogRules.edit(Self.lamp, with: Self.input(stock: ProductInput.maximumStock + 1), expected: nil) }
    }

    static func detail(_ entry: PublishEntry?) throws -> ProductChange? {
        try entry.map { try $0.detail.decode(as: ProductChange.self) }
    }

    @Test func onlyACreationAPriceChangeAndADeletionArePublished() throws {
        let created = try #require(try CatalogRules.event(for: .created(Self.lamp)))
        #expect(created.detailType == ShopEvents.productCreated.detailType)
        #expect(try Self.detail(created)?.oldPrice == nil)

        var renamed = Self.lamp
        renamed.name = "Lamp 2"
        renamed.version += 1
        #expect(try CatalogRules.event(for: .edited(before: Self.lamp, after: renamed)) == nil, "baskets follow prices, not names")

        var dearer = renamed
        dearer.price = 12
        let changed = try #require(try CatalogRules.event(for: .edited(before: Self.lamp, after: dearer)))
        #expect(changed.detailType == ShopEvents.productPriceChanged.detailType)
        #expect(try Self.detail(changed) == ProductChange(productId: Self.lamp.id, name: "Lamp 2", category: "Home", price: 12, oldPrice: 10, version: 4))

        let deleted = try #require(try CatalogRules.event(for: .deleted(Self.lamp)))
        #expect(deleted.detailType == ShopEvents.productDeleted.detailType)
        #expect(try Self.detail(deleted)?.version == Self.lamp.version + 1, "outranks every earlier event of the product")
    }
}
