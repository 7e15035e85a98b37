// Messages: the e-mails the shop sent the signed-in customer about their orders (notification-service,
// `GET /notification/{userName}`), newest first, one page after another.
import * as api from './api.js';
import * as auth from './auth.js';
import { orderLink } from './orders.js';
import { h, mount, dateTime, preciseDateTime, shortId, statusPill, pageTitle, loading, busy } from './ui.js';

/** What each order event's e-mail is about, as people read it. */
const EVENTS = {
  OrderCompleted: 'Order confirmed',
  OrderCancelled: 'Order cancelled',
  OrderShipped: 'Order shipped',
  OrderDelivered: 'Order delivered',
  OrderReturned: 'Return received',
};
export const eventLabel = (event) => EVENTS[event] || event;

/** An e-mail's status as people read it. */
const STATUSES = {
  pending: 'Waiting to be sent',
  sending: 'Sending',
  sent: 'Sent',
  unconfirmed: 'Sent (unconfirmed)',
  failed: 'Could not be sent',
};
const messageStatusLabel = (status) => STATUSES[status] || status;

/** How it went out: a channel of `none` means the shop has no mail server configured and only recorded it. */
const CHANNELS = { smtp: 'by e-mail (SMTP)', ses: 'by e-mail (Amazon SES)', none: 'recorded only: no mail server is configured' };

/** #/messages: the signed-in user's e-mails. */
export async function messagesPage({ main }) {
  const user = auth.user();
  mount(main, pageTitle('Messages'), loading('Loading your messages…'));
  let messages = [];
  let cursor;
  const list = h('div', { id: 'messages' });
  const counts = h('p', { class: 'muted', id: 'message-counts', role: 'status' });
  const more = h('button', { type: 'button', class: 'btn', id: 'more-messages', onclick: () => busy(more, 'Loading…', load) }, 'Load more');
  const refresh = h('button', {
    type: 'button', class: 'btn btn-ghost', id: 'refresh-messages',
    onclick: () => busy(refresh, 'Refreshing…', () => { messages = []; cursor = undefined; return load(); }),
  }, 'Refresh');
  const when = (iso) => h('time', { datetime: iso, title: preciseDateTime(iso) }, dateTime(iso));

  async function load() {
    const page = await api.messagesPage(cursor);
    messages = messages.concat(page.items || []);
    cursor = page.nextCursor || undefined;
    more.hidden = !cursor;
    counts.textContent = messages.length
      ? `${messages.length} ${messages.length === 1 ? 'e-mail' : 'e-mails'}${cursor ? ' shown (more below)' : ''}, newest first.`
      : '';
    if (!messages.length) {
      mount(list, h('div', { class: 'card empty', id: 'no-messages' },
        h('p', {}, 'No messages yet. When you place an order, the e-mails the shop sends you about it (confirmation, shipping, delivery) appear here.'),
        h('a', { class: 'btn btn-primary', href: '#/' }, 'Browse the catalog')));
      return;
    }
    mount(list, h('div', { class: 'table-wrap card' }, h('table', { class: 'table messages-table' },
      h('caption', { class: 'visually-hidden' }, 'Your e-mails, newest first'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Subject'), h('th', { scope: 'col' }, 'About'), h('th', { scope: 'col' }, 'Order'),
        h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Status'))),
      h('tbody', {}, messages.map((m) => h('tr', { dataset: { messageId: m.id, event: m.event, status: m.status, orderId: m.orderId, channel: m.channel, createdAt: m.createdAt } },
        h('th', { scope: 'row', class: 'message-subject' }, m.subject,
          m.to ? h('span', { class: 'message-to' }, h('span', { class: 'visually-hidden' }, ', '), `to ${m.to}`) : null),
        h('td', { class: 'message-event' }, eventLabel(m.event)),
        h('td', {}, h('a', { href: orderLink({ userName: user.name, orderId: m.orderId }), 'aria-label': `Order ${m.orderId}` }, h('code', {}, shortId(m.orderId)))),
        h('td', { class: 'nowrap' }, m.sentAt ? when(m.sentAt)
          : [when(m.createdAt), h('span', { class: 'message-note' }, m.status === 'failed' ? 'not sent' : 'not sent yet')]),
        h('td', {}, statusPill(m.status, null, messageStatusLabel),
          CHANNELS[m.channel] && m.status !== 'failed' ? h('span', { class: 'message-note' }, CHANNELS[m.channel]) : null)))))));
  }

  await load();
  mount(main,
    pageTitle('Messages', refresh),
    h('p', { class: 'muted' }, 'The e-mails the shop sent you about your orders.'),
    counts, list, h('p', {}, more));
}
