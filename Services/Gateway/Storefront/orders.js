// Orders: following a checkout until its order exists, the order page with its status moving live
// through the saga and the fulfilment (shipped, delivered, returned), cancelling and returning an order,
// and the order history. Statuses, their labels and what each allows come from lifecycle.js, which is
// rendered from the Swift contract (Shared/Contracts/OrderLifecycle.swift).
import * as api from './api.js';
import * as auth from './auth.js';
import { navigate } from './state.js';
import { HAPPY_PATH, RETURN_PATH, AT_REST, CANCELLABLE, RETURNABLE } from './lifecycle.js';
import {
  h, mount, money, dateTime, preciseDateTime, time, shortId, statusPill, statusLabel, shipmentLabel, reasonLabel,
  pageTitle, loading, notice, sleep, setTitle, toast, busy,
} from './ui.js';
import { lineThumb, showPictures } from './pictures.js';

export const orderLink = (order) => `#/orders/${encodeURIComponent(order.userName)}/${encodeURIComponent(order.orderId)}`;

/** Nothing more will happen to the order by itself (a cancel waiting for the warehouse still will). */
const atRest = (order) => AT_REST.includes(order.status) && !order.cancelRequested;

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
    let order = null;
    try {
      order = await api.orderOfCheckout(checkoutId);
    } catch (error) {
      if (error.status === 401 || error.status === 403) throw error;
      if (error.status === 400) {
        setTitle('Order not found');
        mount(main, h('div', { class: 'narrow', id: 'not-found' },
          h('h1', { tabindex: '-1' }, 'Order not found'),
          notice('warning', 'This link does not name a checkout: ', error.message),
          h('p', {}, h('a', { class: 'btn btn-primary', href: '#/orders' }, 'Your orders'))));
        return;
      }
    }
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

/** The latest history entry with `status`. */
const lastEntry = (order, status) => [...(order.statusHistory || [])].reverse().find((entry) => entry.status === status);
/** A history reason's code: `PaymentDeclined: card_declined` → `PaymentDeclined`. */
const reasonCode = (reason) => String(reason || '').split(':')[0].trim();

function reasonDetail(order) {
  const detail = lastEntry(order, 'Cancelled')?.reason?.split(':').slice(1).join(':').trim();
  return detail ? detail.replace(/_/g, ' ') : '';
}

/** The customer's cancel reached the warehouse after the parcel had left: the order shipped instead. */
const cancelTooLate = (order) => reasonCode(lastEntry(order, 'Shipped')?.reason) === 'CancelTooLate';

/** A history entry's reason as people read it. */
function entryReason(entry) {
  if (!entry.reason) return '—';
  const code = reasonCode(entry.reason);
  if (code === 'CancelTooLate') return 'Cancellation came too late: the parcel had already left';
  const label = reasonLabel(code);
  const detail = entry.reason.split(':').slice(1).join(':').trim().replace(/_/g, ' ');
  return label === code ? entry.reason : `${label}${detail ? ` (${detail})` : ''}`;
}

const carrierText = (shipment) => (shipment?.carrier
  ? [` with ${shipment.carrier}`, shipment.trackingNumber ? [', tracking number ', h('code', {}, shipment.trackingNumber)] : null] : null);

/** What the order's status means for the customer, or null while the saga is still deciding. */
function explanation(order) {
  const shipment = order.shipment;
  if (order.cancelRequested && order.status !== 'Cancelled') {
    return h('div', { class: 'notice notice-warning', role: 'status', id: 'cancel-requested' },
      h('strong', {}, 'Cancellation requested — waiting for the warehouse. '),
      'If the parcel has not left yet, the order is cancelled, your payment refunded and the stock returned. ',
      'If it has already left, it will be delivered and you can return it.');
  }
  switch (order.status) {
    case 'Completed':
      return notice('success', h('strong', {}, 'Thank you! Your order is complete. '),
        'The stock was reserved and your payment was taken; the warehouse is preparing your parcel. You can still cancel until it leaves.');
    case 'Shipped':
      if (cancelTooLate(order)) {
        return h('div', { class: 'notice notice-warning', role: 'status', id: 'cancel-too-late' },
          h('strong', {}, 'Your cancellation came too late: the parcel had already left. '),
          'Nothing was refunded. It is on its way', carrierText(shipment), '; once it is delivered you can return it for a full refund.');
      }
      return notice('success', h('strong', {}, 'Your order is on its way. '),
        'The parcel left the warehouse', shipment?.shippedAt ? ` at ${time(shipment.shippedAt)}` : '', carrierText(shipment), '.');
    case 'Delivered':
      return notice('success', h('strong', {}, 'Delivered. Thank you for your order! '),
        'Not what you expected? You can return it: your payment is refunded in full once the parcel is back.');
    case 'ReturnRequested':
      return h('div', { class: 'notice notice-info', role: 'status', id: 'return-notice' },
        h('strong', {}, 'Return requested. '),
        'Send the parcel back', carrierText(shipment), '. When the warehouse has it, your payment is refunded in full and the items go back in stock.');
    case 'Returned':
      return h('div', { class: 'notice notice-success', role: 'status', id: 'return-notice' },
        h('strong', {}, 'Returned. '), `Your payment of ${money(order.totalPrice)} was refunded in full and the items are back in stock.`);
    case 'Cancelled': {
      const detail = reasonDetail(order);
      const why = {
        OutOfStock: ' A product lacked the stock (or left the catalog).',
        StepTimeout: ' A step of the order did not answer in time.',
        PriceChanged: ' A price changed while your order was being placed; nothing was charged.',
        ReservationLimit: ' You already hold the most units of a product that one customer may hold in orders not yet paid; nothing was charged. Try again once those orders are paid.',
        CustomerCancelled: ' You cancelled it before it left the warehouse.',
      }[order.cancellationReason] || '';
      // A price change or the per-customer cap is caught at the stock reservation, before any payment: nothing to refund.
      const refusedAtReservation = ['PriceChanged', 'ReservationLimit'].includes(order.cancellationReason);
      const aftermath = refusedAtReservation ? ''
        : order.cancellationReason === 'CustomerCancelled' ? ' Any payment taken was refunded in full and the stock returned.'
          : ' Reserved stock was released and any payment refunded.';
      return h('div', { class: 'notice notice-error', role: 'alert', id: 'cancel-notice' },
        h('strong', {}, 'This order was cancelled: '),
        h('span', { id: 'cancel-reason', dataset: { reason: order.cancellationReason || '' } }, reasonLabel(order.cancellationReason || 'Cancelled')),
        detail ? ` (${detail})` : '', '.', why, aftermath,
        order.cancellationReason === 'PriceChanged' ? [' ', h('a', { href: '#/' }, 'See the current prices'), ' and order again.'] : null);
    }
    default:
      return null;
  }
}

/** "+4.2 s", "+3 min", "+2 h", "+5 d": how long after the order was placed. */
function since(seconds) {
  if (seconds < 10) return `+${seconds.toFixed(1)} s`;
  if (seconds < 120) return `+${Math.round(seconds)} s`;
  if (seconds < 7200) return `+${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `+${Math.round(seconds / 3600)} h`;
  return `+${Math.round(seconds / 86400)} d`;
}

/** The statuses the timeline shows: the happy path, then the return; a cancelled order ends at Cancelled. */
function timeline(order, reached) {
  if (order.status === 'Cancelled') return HAPPY_PATH.filter((status) => reached.has(status)).concat('Cancelled');
  return RETURN_PATH.some((status) => reached.has(status)) ? HAPPY_PATH.concat(RETURN_PATH) : HAPPY_PATH;
}

function stepper(order) {
  const history = order.statusHistory || [];
  const at = (status) => lastEntry(order, status)?.at;
  const placed = history[0]?.at;
  const elapsed = (iso) => {
    const seconds = (new Date(iso) - new Date(placed)) / 1000;
    return placed && iso !== placed && seconds >= 0 ? ` · ${since(seconds)}` : '';
  };
  const reached = new Set(history.map((entry) => entry.status).concat(order.status));
  const cancelled = order.status === 'Cancelled';
  const steps = timeline(order, reached);
  // Every status reached is done; the step after the current one is what the shop works on now (nothing
  // while a cancel waits for the warehouse: the notice says what happens next).
  const next = atRest(order) || order.cancelRequested ? null : steps[steps.indexOf(order.status) + 1];
  return h('ol', { class: `stepper${cancelled ? ' stepper-cancelled' : ''}`, 'aria-label': 'Order progress' },
    steps.map((status) => {
      const current = order.status === status;
      const state = status === 'Cancelled' ? 'cancelled' : reached.has(status) ? 'done' : status === next ? 'current' : 'todo';
      return h('li', { class: `step step-${state}${RETURN_PATH.includes(status) ? ' step-return' : ''}`, 'aria-current': current ? 'step' : null, dataset: { status } },
        h('span', { class: 'step-dot', 'aria-hidden': 'true' }, state === 'done' ? '✓' : state === 'cancelled' ? '✕' : ''),
        h('span', { class: 'step-label' }, statusLabel(status), h('span', { class: 'visually-hidden' },
          state === 'done' ? ' (done)' : state === 'current' ? ' (in progress)' : state === 'todo' ? ' (not yet)' : '')),
        h('span', { class: 'step-time' }, at(status) ? [h('time', { datetime: at(status) }, time(at(status))), h('span', { class: 'step-elapsed' }, elapsed(at(status)))]
          : state === 'current' ? 'in progress' : '\u00a0'));
    }));
}

/** The parcel: its status, carrier, tracking number, dispatch and delivery times (null before Completed). */
function shipmentPanel(order) {
  const shipment = order.shipment;
  if (!shipment) return null;
  const when = (iso) => (iso ? h('time', { datetime: iso }, preciseDateTime(iso)) : null);
  const fact = (label, id, value, missing) => [h('dt', {}, label), h('dd', { id, class: value ? null : 'muted' }, value || missing)];
  return h('section', { class: 'shipment', id: 'shipment', 'aria-labelledby': 'shipment-title', dataset: { status: shipment.status } },
    h('div', { class: 'shipment-head' },
      h('h3', { id: 'shipment-title' }, 'Shipment'),
      h('span', { id: 'shipment-status', dataset: { status: shipment.status } }, statusPill(shipment.status, null, shipmentLabel))),
    h('dl', { class: 'facts' },
      fact('Carrier', 'shipment-carrier', shipment.carrier, 'Chosen when the parcel leaves'),
      fact('Tracking number', 'tracking-number', shipment.trackingNumber ? h('code', {}, shipment.trackingNumber) : null, 'Given when the parcel leaves'),
      fact('Dispatched', 'shipped-at', when(shipment.shippedAt), shipment.status === 'Cancelled' ? 'Never' : 'Not yet'),
      fact('Delivered', 'delivered-at', when(shipment.deliveredAt), shipment.status === 'Cancelled' ? 'Never' : 'Not yet')));
}

function historyTable(order) {
  return h('div', { class: 'table-scroll' }, h('table', { class: 'table', id: 'status-history' },
    h('caption', {}, 'Status history'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Reason'))),
    h('tbody', {}, (order.statusHistory || []).map((entry) => h('tr', { dataset: { status: entry.status } },
      h('td', {}, statusPill(entry.status)),
      h('td', { class: 'nowrap' }, h('time', { datetime: entry.at }, preciseDateTime(entry.at))),
      h('td', { dataset: { reason: entry.reason || '' } }, entryReason(entry)))))));
}

/**
 * An in-page confirmation (a modal <dialog>): `confirm` runs on Confirm with the dialog's error slot; Keep
 * (focused first, the safe choice) or Escape closes it. Focus goes back to `opener` afterwards.
 */
function confirmation({ id, title, text, confirmLabel, keepLabel, danger, confirm, opener }) {
  const error = h('p', { class: 'form-error', role: 'alert', id: `${id}-error` });
  const yes = h('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, id: `confirm-${id}` }, confirmLabel);
  const keep = h('button', { type: 'button', class: 'btn btn-ghost', id: `keep-${id}`, autofocus: true }, keepLabel);
  const dialog = h('dialog', { class: 'confirm-dialog', id: `${id}-dialog`, 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-text` },
    h('h2', { id: `${id}-title` }, title),
    h('p', { id: `${id}-text` }, text),
    error,
    h('div', { class: 'actions' }, yes, keep));
  keep.addEventListener('click', () => dialog.close());
  yes.addEventListener('click', () => busy(yes, 'Sending…', async () => {
    error.textContent = '';
    error.classList.remove('visible');
    await confirm(dialog, (message) => { error.textContent = message; error.classList.add('visible'); });
  }));
  dialog.addEventListener('close', () => {
    dialog.remove();
    opener()?.focus();
  });
  return dialog;
}

/** #/orders/{userName}/{orderId}: the order; its status is polled until it is at rest (Delivered, Returned, Cancelled). */
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

  const announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite', role: 'status' });
  const admin = auth.user()?.isAdmin;
  // The live card's parts are kept: re-rendering one (a new status) leaves the others, and the focus, alone.
  const statusHead = h('div', { class: 'order-status-head' });
  const progress = h('div', { class: 'order-progress' });
  const actions = h('div', { class: 'order-actions', id: 'order-actions' });
  const details = h('div', { class: 'order-details' });
  const live = h('section', { class: 'card order-live', 'aria-labelledby': 'order-status-title' }, statusHead, progress, actions, details);
  let announced = `${order.status}/${Boolean(order.cancelRequested)}`;
  let refusal = null; // { kind, message }: the last cancel or return the shop refused (409)
  let actionsKey = null;

  const renderLive = () => {
    mount(statusHead,
      h('h2', { id: 'order-status-title', tabindex: '-1' }, 'Status'),
      h('span', { id: 'order-status', dataset: { status: order.status, cancelRequested: String(Boolean(order.cancelRequested)) } },
        statusPill(order.status)));
    mount(progress,
      stepper(order),
      explanation(order),
      atRest(order) ? null : h('p', { class: 'live' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Updating live as the order moves…'));
    mount(details, shipmentPanel(order), historyTable(order));
    const now = `${order.status}/${Boolean(order.cancelRequested)}`;
    if (announced !== now) {
      announced = now;
      announcer.textContent = order.cancelRequested && order.status !== 'Cancelled'
        ? 'Cancellation requested — waiting for the warehouse'
        : `Order status: ${statusLabel(order.status)}${order.cancellationReason ? `, ${reasonLabel(order.cancellationReason)}` : ''}`;
    }
    renderActions();
  };

  const cancelButton = h('button', {
    type: 'button', class: 'btn btn-danger-outline', id: 'cancel-order', 'aria-describedby': 'cancel-order-hint', onclick: () => ask('cancel'),
  }, 'Cancel order');
  const returnButton = h('button', {
    type: 'button', class: 'btn', id: 'return-order', 'aria-describedby': 'return-order-hint', onclick: () => ask('return'),
  }, 'Return order');

  /** The Cancel and Return buttons the status allows, and the last refusal; rebuilt only when they change. */
  function renderActions() {
    const canCancel = CANCELLABLE.includes(order.status) && !order.cancelRequested;
    const canReturn = RETURNABLE.includes(order.status);
    const key = JSON.stringify([canCancel, canReturn, refusal]);
    if (key === actionsKey) return;
    actionsKey = key;
    mount(actions,
      refusal ? h('div', { class: 'notice notice-error', role: 'alert', id: 'action-refused' },
        h('strong', {}, refusal.kind === 'cancel' ? 'The order could not be cancelled: ' : 'The order could not be returned: '), refusal.message) : null,
      canCancel ? h('div', { class: 'action-row' }, cancelButton,
        h('p', { class: 'hint', id: 'cancel-order-hint' }, 'You can cancel until the parcel leaves the warehouse: your payment is refunded in full.')) : null,
      canReturn ? h('div', { class: 'action-row' }, returnButton,
        h('p', { class: 'hint', id: 'return-order-hint' }, 'Send it back for a full refund once the warehouse has it.')) : null);
  }

  /** Takes a newer answer for the order; re-renders only what changed. */
  const update = (next) => {
    if (!next || JSON.stringify(next) === JSON.stringify(order)) return;
    order = next;
    renderLive();
  };

  let following = null;
  /** Polls the order until it is at rest; one loop at a time (a return starts it again). */
  const follow = () => {
    following ??= (async () => {
      let failures = 0;
      try {
        while (!atRest(order)) {
          await sleep(failures ? Math.min(5000, 1000 * 2 ** failures) : 800, signal);
          try {
            update(await api.order(userName, orderId));
            failures = 0;
          } catch (error) {
            if (error.status === 401 || error.status === 403) throw error;
            failures += 1;
          }
        }
      } finally {
        following = null;
      }
    })();
    return following;
  };
  const followQuietly = () => follow().catch((error) => {
    if (error?.name !== 'AbortError' && !signal.aborted) toast(error.message, 'error');
  });

  /** Cancel or Return: asks in a dialog, then POSTs; a 409 (too late, not delivered) shows the shop's reason. */
  function ask(kind) {
    const cancel = kind === 'cancel';
    const dialog = confirmation({
      id: kind,
      title: cancel ? 'Cancel this order?' : 'Return this order?',
      text: cancel
        ? `If the parcel has not left the warehouse yet, the order is cancelled, your payment of ${money(order.totalPrice)} refunded and the stock returned.`
        : `You send the parcel back; once the warehouse has it, your payment of ${money(order.totalPrice)} is refunded in full.`,
      confirmLabel: cancel ? 'Cancel order' : 'Return order',
      keepLabel: cancel ? 'Keep order' : 'Keep it',
      danger: cancel,
      opener: () => {
        const button = cancel ? cancelButton : returnButton;
        return button.isConnected ? button : statusHead.querySelector('h2');
      },
      confirm: async (box, fail) => {
        try {
          const answer = cancel ? await api.cancelOrder(userName, orderId) : await api.returnOrder(userName, orderId);
          refusal = null;
          box.close();
          toast(cancel ? `Cancellation of order ${shortId(orderId)} requested.` : `Return of order ${shortId(orderId)} requested.`, 'success');
          if (answer?.orderId) update(answer);
          renderActions();
          followQuietly();
        } catch (error) {
          if (error.status === 409 || error.status === 404) {
            refusal = { kind, message: error.message };
            box.close();
            renderActions();
            toast(error.message, 'error');
            update(await api.order(userName, orderId).catch(() => null));
            followQuietly();
          } else {
            fail(error.message); // a network error: the dialog stays to try again
          }
        }
      },
    });
    main.append(dialog);
    dialog.showModal();
  }

  renderLive();

  const itemList = h('ul', { class: 'summary-lines order-items' }, (order.items || []).map((i) => h('li', { dataset: { productId: i.productId } },
    h('span', { class: 'order-item' }, lineThumb(i.productId, i.productName),
      h('span', {}, `${i.quantity} × ${i.productName}`, i.color ? h('span', { class: 'muted' }, ` · ${i.color}`) : null)),
    h('span', { class: 'price' }, money(i.price * i.quantity)))));
  showPictures(itemList);

  mount(main,
    pageTitle(`Order ${shortId(order.orderId)}`,
      h('a', { class: 'btn btn-ghost', href: admin && userName !== auth.user()?.name ? '#/admin/orders' : '#/orders' }, admin && userName !== auth.user()?.name ? 'All orders' : 'Your orders')),
    h('p', { class: 'muted order-ids' }, `Placed ${dateTime(order.orderDate)} by ${order.userName} · order `, h('code', {}, order.orderId)),
    announcer,
    h('div', { class: 'order-layout' },
      live,
      h('aside', { class: 'card summary', 'aria-label': 'Order details' },
        h('h2', {}, 'Items'),
        itemList,
        h('dl', {}, h('dt', { class: 'total' }, 'Total'), h('dd', { class: 'total' }, money(order.totalPrice))),
        h('h2', {}, 'Delivery'),
        h('p', {}, `${order.firstName} ${order.lastName}`, h('br'), order.address, h('br'), order.email),
        h('h2', {}, 'Payment'),
        h('p', {}, `${order.paymentMethod} · ${order.cardInfo}`),
        admin ? h('p', {}, h('a', { href: `#/admin/payments?order=${encodeURIComponent(order.orderId)}` }, 'Payment record (admin)')) : null,
        admin && order.shipment ? h('p', {}, h('a', { href: '#/admin/shipments' }, 'Shipments (admin)')) : null)));

  await follow();
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
