// Rendered by `swift run bus lifecycle --write` from Shared/Contracts/OrderLifecycle.swift; do not edit.
export const ORDER_STATUSES = [{ status: 'Pending', label: 'Order placed' }, { status: 'StockReserved', label: 'Stock reserved' }, { status: 'Paid', label: 'Paid' }, { status: 'Completed', label: 'Completed' }, { status: 'Shipped', label: 'Shipped' }, { status: 'Delivered', label: 'Delivered' }, { status: 'ReturnRequested', label: 'Return requested' }, { status: 'Returned', label: 'Returned' }, { status: 'Cancelled', label: 'Cancelled' }];
export const HAPPY_PATH = ['Pending', 'StockReserved', 'Paid', 'Completed', 'Shipped', 'Delivered'];
export const RETURN_PATH = ['ReturnRequested', 'Returned'];
export const AT_REST = ['Delivered', 'Returned', 'Cancelled'];
export const CANCELLABLE = ['Pending', 'StockReserved', 'Paid', 'Completed'];
export const RETURNABLE = ['Delivered'];
export const CANCELLATION_REASONS = { OutOfStock: 'Out of stock', PaymentDeclined: 'Payment declined', StepTimeout: 'Timed out', PriceChanged: 'Price changed', ReservationLimit: 'Reservation limit', CustomerCancelled: 'Cancelled by you' };
export const SHIPMENT_STATUSES = { Preparing: 'Preparing', Shipped: 'Shipped', Delivered: 'Delivered', ReturnRequested: 'Return requested', Returned: 'Returned', Cancelled: 'Cancelled' };
