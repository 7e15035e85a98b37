import Foundation

/// A handful of products in a few categories, for demos on an empty catalog.
enum DemoCatalog {
    static let products: [ProductInput] = [
        ProductInput(name: "IPhone X", description: "A smartphone with an edge-to-edge display.", imageFile: "product-1.png", price: Decimal(string: "950.40")!, category: "Smart Phone", stock: 25),
        ProductInput(name: "Samsung 10", description: "A flagship Android phone.", imageFile: "product-2.png", price: Decimal(string: "840.00")!, category: "Smart Phone", stock: 40),
        ProductInput(name: "Huawei Plus", description: "A large-screen phone with a long battery life.", imageFile: "product-3.png", price: Decimal(string: "650.00")!, category: "White Appliances", stock: 15),
        ProductInput(name: "Xiaomi Mi 9", description: "An affordable phone with a triple camera.", imageFile: "product-4.png", price: Decimal(string: "470.00")!, category: "White Appliances", stock: 60),
        ProductInput(name: "HTC U11+ Plus", description: "A phone with a squeezable frame.", imageFile: "product-5.png", price: Decimal(string: "380.00")!, category: "Smart Phone", stock: 8),
        ProductInput(name: "LG G7 ThinQ", description: "A phone with a bright display.", imageFile: "product-6.png", price: Decimal(string: "240.00")!, category: "Home Kitchen", stock: 30),
    ]
}
