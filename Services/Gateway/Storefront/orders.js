// Orders: following a checkout until its order exists, the order page with its status moving live
// through the saga, and the order history.
import * as api from './api.js';
import * as auth from './auth.js';
import { navigate } from './state.js';
import { h, mount, money, dateTime, preciseDateTime, time, shortId, statusPill, reasonLabel, pageTitle, loading, notice, sleep, setTitle } from './ui.js';

const STEPS = [
  ['Pending', 'Order placed'],
  ['StockReserved', 'Stock reserved'],
  ['Paid', 'Paid'],
  ['Completed', 'Completed'],
];
const TERMINAL = new Set(['Completed', 'Cancelled']);
export const orderLink = (order) => `#/orders/${encodeURIComponent(order.userName)}/${encodeURIComponent(order.orderId)}`;

/** #/track/{checkoutId}: the order is created asynchronously from the checkout event; wait for it. */
export async function trackPage({ main, params, signal }) {
  const checkoutId = params.checkoutId.toLowerCase();
  const started = Date.now();
  const slow = h('p', { class: 'hint' });
  mount(main,
    pageTitle('Order placed'),
    h('div', { class: 'card tracking' },
      loading('Your checkout was accepted. Waiting for the ordering service to create your order…'),
      h('p', { class: 'muted' }, 'Checkout ', h('code', {}, checkoutId)),
      slow));
  for (;;) {
    const orders = await api.myOrders().catch((error) => {
      if (error.status === 401 || error.status === 403) throw error;
      return [];
    });
    const order = (orders || []).find((o) => String(o.checkoutId).toLowerCase() === checkoutId);
    if (order) {
      navigate(orderLink(order), { replace: true });
      return;
    }
    const waited = (Date.now() - started) / 1000;
    if (waited > 20) {
      slow.textContent = 'This takes longer than usual (is ordering-service running?). The order will appear in your orders as soon as it is created.';
    }
    await sleep(waited > 30 ? 3000 : 700, signal);
  }
}

function reasonDetail(order) {
  const last = [...(order.statusHistory || [])].reverse().find((entry) => entry.status === 'Cancelled');
  const detail = last?.reason?.split(':').slice(1).join(':').trim();
  return detail ? detail.replace(/_/g, ' ') : '';
}

function explanation(order) {
  if (order.status === 'Completed') {
    return notice('success', h('strong', {}, 'Thank you! Your order is complete. '), 'The stock was reserved and your payment was taken.');
  }
  if (order.status === 'Cancelled') {
    const detail = reasonDetail(order);
    const why = {
      OutOfStock: ' A product lacked the stock (or left the catalog).',
      StepTimeout: ' A step of the order did not answer in time.',
      PriceChanged: ' A price changed while your order was being placed; nothing was charged.',
      ReservationLimit: ' You already hold the most units of a product that one customer may hold in orders not yet paid; nothing was charged. Try again once those orders are paid.',
    }[order.cancellationReason] || '';
    // A price change or the per-customer cap is caught at the stock reservation, before any payment: nothing to refund.
    const refusedAtReservation = ['PriceChanged', 'ReservationLimit'].includes(order.cancellationReason);
    const aftermath = refusedAtReservation ? '' : ' Reserved stock was released and any payment refunded.';
    return h('div', { class: 'notice notice-error', role: 'alert', id: 'cancel-notice' },
      h('strong', {}, 'This order was cancelled: '),
      h('span', { id: 'cancel-reason', dataset: { reason: order.cancellationReason || '' } }, reasonLabel(order.cancellationReason || 'Cancelled')),
      detail ? ` (${detail})` : '', '.', why, aftermath,
      order.cancellationReason === 'PriceChanged' ? [' ', h('a', { href: '#/' }, 'See the current prices'), ' and order again.'] : null);
  }
  return h('p', { class: 'live' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Updating live as the saga moves…');
}

function stepper(order) {
  const history = order.statusHistory || [];
  const at = (status) => history.find((entry) => entry.status === status)?.at;
  const placed = history[0]?.at;
  const elapsed = (iso) => {
    const seconds = (new Date(iso) - new Date(placed)) / 1000;
    return placed && iso !== placed && seconds >= 0 ? ` · +${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s` : '';
  };
  const reached = new Set(history.map((entry) => entry.status).concat(order.status));
  const cancelled = order.status === 'Cancelled';
  const steps = cancelled ? STEPS.filter(([status]) => reached.has(status) && status !== 'Completed').concat([['Cancelled', 'Cancelled']]) : STEPS;
  return h('ol', { class: `stepper${cancelled ? ' stepper-cancelled' : ''}`, 'aria-label': 'Order progress' },
    steps.map(([status, label]) => {
      const current = order.status === status;
      const done = reached.has(status);
      const state = status === 'Cancelled' ? 'cancelled' : current && !TERMINAL.has(status) ? 'current' : done ? 'done' : 'todo';
      return h('li', { class: `step step-${state}`, 'aria-current': current ? 'step' : null, dataset: { status } },
        h('span', { class: 'step-dot', 'aria-hidden': 'true' }, state === 'done' ? '✓' : state === 'cancelled' ? '✕' : ''),
        h('span', { class: 'step-label' }, label),
        h('span', { class: 'step-time' }, at(status) ? [time(at(status)), h('span', { class: 'step-elapsed' }, elapsed(at(status)))]
          : state === 'current' ? 'in progress' : '\u00a0'));
    }));
}

function historyTable(order) {
  return h('table', { class: 'table', id: 'status-history' },
    h('caption', {}, 'Status history'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Reason'))),
    h('tbody', {}, (order.statusHistory || []).map((entry) => h('tr', { dataset: { status: entry.status } },
      h('td', {}, statusPill(entry.status)),
      h('td', { class: 'nowrap' }, h('time', { datetime: entry.at }, preciseDateTime(entry.at))),
      h('td', {}, entry.reason || '—')))));
}

/** #/orders/{userName}/{orderId}: the order; its status is polled until it is Completed or Cancelled. */
export async function orderPage({ main, params, signal }) {
  const { userName, orderId } = params;
  mount(main, pageTitle('Order'), loading('Loading the order…'));
  let order;
  try {
    order = await api.order(userName, orderId);
  } catch (error) {
    if (error.status === 403) {
      setTitle('Not your order');
      mount(main, h('div', { class: 'narrow', id: 'access-denied' },
        h('h1', { tabindex: '-1' }, 'Not your order'),
        notice('error', h('strong', {}, '403 — access denied. '), 'This order belongs to another account: you can only see your own orders.'),
        h('p', {}, h('a', { class: 'btn btn-primary', href: '#/orders' }, 'Your orders'))));
      return;
    }
    if (error.status === 404 || error.status === 400) {
      setTitle('Order not found');
      mount(main, h('div', { class: 'narrow', id: 'not-found' },
        h('h1', { tabindex: '-1' }, 'Order not found'),
        notice('warning', 'There is no such order. It may not have been created yet, or the link is wrong.'),
        h('p', {}, h('a', { class: 'btn btn-primary', href: '#/orders' }, 'Your orders'))));
      return;
    }
    throw error;
  }

  const live = h('section', { class: 'card order-live', 'aria-labelledby': 'order-status-title' });
  const announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite', role: 'status' });
  const admin = auth.user()?.isAdmin;
  let announced = order.status;

  const renderLive = () => {
    mount(live,
      h('div', { class: 'order-status-head' },
        h('h2', { id: 'order-status-title' }, 'Status'),
        h('span', { id: 'order-status', dataset: { status: order.status } }, statusPill(order.status))),
      stepper(order),
      explanation(order),
      historyTable(order));
    if (announced !== order.status) {
      announced = order.status;
      announcer.textContent = `Order status: ${order.status}${order.cancellationReason ? `, ${reasonLabel(order.cancellationReason)}` : ''}`;
    }
  };
  renderLive();

  mount(main,
    pageTitle(`Order ${shortId(order.orderId)}`,
      h('a', { class: 'btn btn-ghost', href: admin && userName !== auth.user()?.name ? '#/admin/orders' : '#/orders' }, admin && userName !== auth.user()?.name ? 'All orders' : 'Your orders')),
    h('p', { class: 'muted order-ids' }, `Placed ${dateTime(order.orderDate)} by ${order.userName} · order `, h('code', {}, order.orderId)),
    announcer,
    h('div', { class: 'order-layout' },
      live,
      h('aside', { class: 'card summary', 'aria-label': 'Order details' },
        h('h2', {}, 'Items'),
        h('ul', { class: 'summary-lines' }, (order.items || []).map((i) => h('li', {},
          h('span', {}, `${i.quantity} × ${i.productName}`, i.color ? h('span', { class: 'muted' }, ` · ${i.color}`) : null),
          h('span', { class: 'price' }, money(i.price * i.quantity))))),
        h('dl', {}, h('dt', { class: 'total' }, 'Total'), h('dd', { class: 'total' }, money(order.totalPrice))),
        h('h2', {}, 'Delivery'),
        h('p', {}, `${order.firstName} ${order.lastName}`, h('br'), order.address, h('br'), order.email),
        h('h2', {}, 'Payment'),
        h('p', {}, `${order.paymentMethod} · ${order.cardInfo}`),
        admin ? h('p', {}, h('a', { href: `#/admin/payments?order=${encodeURIComponent(order.orderId)}` }, 'Payment record (admin)')) : null)));

  let failures = 0;
  while (!TERMINAL.has(order.status)) {
    await sleep(failures ? Math.min(5000, 1000 * 2 ** failures) : 800, signal);
    try {
      const next = await api.order(userName, orderId);
      failures = 0;
      if (next.status !== order.status || (next.statusHistory || []).length !== (order.statusHistory || []).length) {
        order = next;
        renderLive();
      }
    } catch (error) {
      if (error.status === 401 || error.status === 403) throw error;
      failures += 1;
    }
  }
}

/** #/orders: the signed-in user's orders, newest first. */
export async function ordersPage({ main }) {
  mount(main, pageTitle('Your orders'), loading('Loading your orders…'));
  const orders = await api.myOrders();
  if (!orders.length) {
    mount(main, pageTitle('Your orders'), h('div', { class: 'card empty' }, h('p', {}, 'You have not ordered anything yet.'),
      h('a', { class: 'btn btn-primary', href: '#/' }, 'Browse the catalog')));
    return;
  }
  mount(main, pageTitle('Your orders'), ordersTable(orders, { showUser: false }));
}

/** A table of orders with links to their pages (also the admin's list). */
export function ordersTable(orders, { showUser = true, extra } = {}) {
  return h('div', { class: 'table-wrap card' }, h('table', { class: 'table orders-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Order'), h('th', { scope: 'col' }, 'Date'), showUser ? h('th', { scope: 'col' }, 'Customer') : null,
      h('th', { scope: 'col' }, 'Items'), h('th', { scope: 'col', class: 'num' }, 'Total'), h('th', { scope: 'col' }, 'Status'),
      extra ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')) : null)),
    h('tbody', {}, orders.map((o) => h('tr', { dataset: { orderId: o.orderId, status: o.status } },
      h('td', {}, h('a', { href: orderLink(o) }, h('code', {}, shortId(o.orderId)))),
      h('td', {}, dateTime(o.orderDate)),
      showUser ? h('td', {}, o.userName) : null,
      h('td', {}, (o.items || []).map((i) => `${i.quantity} × ${i.productName}`).join(', ')),
      h('td', { class: 'num' }, money(o.totalPrice)),
      h('td', {}, statusPill(o.status, o.cancellationReason)),
      extra ? h('td', {}, extra(o)) : null)))));
}
