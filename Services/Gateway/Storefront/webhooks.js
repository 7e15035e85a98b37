// The admin's webhooks: endpoints subscribed to order events (notification-service). Each delivery is signed
// (Standard Webhooks), retried with backoff on anything but a 2xx, and dead once the retry window closes.
// The signing secret is in the answer to the POST only: shown once, right after the webhook is created.
import * as api from './api.js';
import {
  h, mount, dateTime, preciseDateTime, field, showErrors, clearErrors, values, busy, toast, loading, notice, statusPill, shortId, sleep,
} from './ui.js';

/** The events an endpoint can subscribe to, in the API's names (what the receiver gets as `type`). */
export const WEBHOOK_EVENTS = [
  ['OrderCompleted', 'the order is paid and confirmed'],
  ['OrderCancelled', 'the order was cancelled'],
  ['OrderShipped', 'the parcel left the warehouse'],
  ['OrderDelivered', 'the parcel was delivered'],
  ['OrderReturned', 'a returned parcel arrived back'],
];

/** The API names a bad event by its index (`events[2]`): the form has one error slot for all of them. */
const fieldOf = (name) => (/^events(\[\d+\])?$/.test(name || '') ? 'events' : name);

/** #/admin/webhooks: the list and the form; #/admin/webhooks?deliveries={id}: one webhook's deliveries. */
export async function webhooksPanel(ctx) {
  const id = ctx.query.get('deliveries');
  return id ? deliveriesView(ctx, id) : webhooksView(ctx);
}

const when = (iso) => (iso ? h('time', { datetime: iso, title: preciseDateTime(iso) }, dateTime(iso)) : h('span', { class: 'muted' }, '—'));

// MARK: the list and the form

async function webhooksView({ panel }) {
  mount(panel, loading('Loading webhooks…'));
  let webhooks = [];
  let cursor;
  const created = h('div', { class: 'webhook-created' }); // the new webhook's secret, once
  const list = h('div', { id: 'webhooks' });
  const counts = h('p', { class: 'muted', id: 'webhook-counts' });
  const more = h('button', { type: 'button', class: 'btn', onclick: () => busy(more, 'Loading…', load) }, 'Load more');

  async function load() {
    const page = await api.webhooksPage(cursor);
    const known = new Set(webhooks.map((w) => w.id));
    webhooks = webhooks.concat((page.items || []).filter((w) => !known.has(w.id)));
    cursor = page.nextCursor || undefined;
    render();
  }

  // The form: the endpoint's URL, the events (at least one), a description.
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create webhook');
  const eventsError = 'webhook-events-error';
  const form = h('form', { class: 'card form webhook-form', id: 'webhook-form', novalidate: true, 'aria-labelledby': 'webhook-form-title' },
    h('h2', { id: 'webhook-form-title' }, 'New webhook'),
    field('Endpoint URL', 'url', {
      type: 'url', required: true, maxlength: '2048', placeholder: 'https://example.com/hooks/shop', autocomplete: 'off', spellcheck: 'false',
    }, { hint: 'The shop POSTs each event there (http or https). Loopback and private addresses are refused unless the server allows them (WEBHOOK_ALLOW_PRIVATE=true).' }),
    h('fieldset', { class: 'field choices', dataset: { field: 'events' }, 'aria-describedby': eventsError },
      h('legend', {}, 'Events', h('span', { class: 'required', 'aria-hidden': 'true' }, ' *')),
      h('ul', { class: 'choice-list' }, WEBHOOK_EVENTS.map(([event, about]) => {
        const id = `webhook-event-${event}`;
        return h('li', {},
          h('input', { type: 'checkbox', id, name: 'events', value: event }),
          h('label', { for: id }, h('code', {}, event), h('span', { class: 'muted' }, ` — ${about}`)));
      })),
      h('p', { class: 'field-error', id: eventsError, role: 'alert', dataset: { errorFor: 'events' } })),
    field('Description', 'description', { maxlength: '500' }, { hint: 'Optional: what receives the events, e.g. “Warehouse system”' }),
    h('div', { class: 'actions' }, submit));
  const chosen = () => [...form.querySelectorAll('input[name="events"]:checked')].map((input) => input.value);
  const resetForm = () => {
    form.reset();
    form.querySelector('input[name="events"][value="OrderCompleted"]').checked = true;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const v = values(form);
    const events = chosen();
    const problems = [];
    if (!v.url) problems.push({ field: 'url', detail: 'Enter the URL the events are sent to.' });
    else if (!/^https?:\/\/\S+$/i.test(v.url)) problems.push({ field: 'url', detail: 'Enter an http or https URL, like https://example.com/hooks/shop.' });
    if (!events.length) problems.push({ field: 'events', detail: 'Choose at least one event.' });
    if (problems.length) {
      showErrors(form, { errors: problems });
      return;
    }
    const input = { url: v.url, events, ...(v.description ? { description: v.description } : {}) };
    const { webhook, error } = await busy(submit, 'Creating…', async () => {
      try {
        return { webhook: await api.createWebhook(input) };
      } catch (failure) {
        return { error: failure };
      }
    });
    if (error) {
      showErrors(form, error, fieldOf); // 400/422: next to the field the problem names
      return;
    }
    const { secret, ...shown } = webhook;
    resetForm();
    webhooks = [shown, ...webhooks.filter((w) => w.id !== shown.id)];
    render(shown.id);
    showSecret(webhook);
    toast(`Created the webhook to ${shown.url}.`, 'success');
  });

  /** The signing secret, this once: copyable, and said plainly that it cannot be seen again. */
  function showSecret(webhook) {
    // A read-only text area: the whole secret is visible (it wraps), and focusing it selects it for Ctrl+C.
    const value = h('textarea', {
      id: 'webhook-secret', class: 'secret-value', readonly: true, rows: '2', value: webhook.secret, spellcheck: 'false', autocomplete: 'off',
      'aria-describedby': 'webhook-secret-note', onfocus: (event) => event.target.select(),
    });
    const copy = h('button', { type: 'button', class: 'btn btn-primary', id: 'copy-secret', onclick: () => copySecret(value) }, 'Copy');
    const box = h('section', {
      class: 'card secret-card', id: 'webhook-secret-card', tabindex: '-1', 'aria-labelledby': 'webhook-secret-title', dataset: { webhookId: webhook.id },
    },
    h('h2', { id: 'webhook-secret-title' }, 'Webhook created: copy its signing secret now'),
    h('p', {}, 'Every delivery to ', h('code', { class: 'webhook-url' }, webhook.url), ' is signed with this secret: the ',
      h('code', {}, 'webhook-signature'), ' header carries an HMAC-SHA256 of ', h('code', {}, 'webhook-id.webhook-timestamp.body'),
      ' (Standard Webhooks), so your endpoint can tell the shop\'s requests from anyone else\'s.'),
    h('div', { class: 'field' },
      h('label', { for: 'webhook-secret' }, 'Signing secret'),
      h('div', { class: 'secret-row' }, value, copy)),
    h('div', { class: 'notice notice-warning', id: 'webhook-secret-note' },
      h('strong', {}, 'This secret is shown only once. '),
      'It cannot be displayed again: store it now where your endpoint can read it. If it is lost, delete this webhook and create a new one.'),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn', id: 'secret-done', onclick: () => { mount(created); form.elements.url.focus(); } }, 'I have stored it')));
    mount(created, box);
    box.focus();
  }

  /** Deletes after an inline confirmation, like the products' Delete. */
  function actions(webhook) {
    const cell = h('td', { class: 'row-actions webhook-actions' });
    const normal = () => mount(cell,
      h('a', { class: 'btn btn-small', href: `#/admin/webhooks?deliveries=${encodeURIComponent(webhook.id)}`, 'aria-label': `Deliveries to ${webhook.url}` }, 'Deliveries'),
      h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': `Delete the webhook to ${webhook.url}`, onclick: confirmDelete }, 'Delete'));
    function confirmDelete() {
      const yes = h('button', {
        type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Yes, delete the webhook to ${webhook.url}`,
        onclick: () => busy(yes, 'Deleting…', async () => {
          try {
            await api.deleteWebhook(webhook.id);
            toast(`Deleted the webhook to ${webhook.url}: nothing more is sent to it.`, 'success');
          } catch (error) {
            if (error.status !== 404) { toast(error.message, 'error'); return; }
          }
          webhooks = webhooks.filter((w) => w.id !== webhook.id);
          if (created.querySelector(`[data-webhook-id="${CSS.escape(webhook.id)}"]`)) mount(created);
          render();
          list.querySelector('caption, .empty p')?.setAttribute('tabindex', '-1');
          list.querySelector('caption, .empty p')?.focus();
        }),
      }, 'Delete');
      mount(cell, h('span', { class: 'confirm' }, 'Delete it? Nothing more is sent to it. '), yes,
        h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => { normal(); cell.querySelector('button')?.focus(); } }, 'Keep'));
      yes.focus();
    }
    normal();
    return cell;
  }

  function render(highlight) {
    more.hidden = !cursor;
    counts.textContent = webhooks.length ? `${webhooks.length} ${webhooks.length === 1 ? 'webhook' : 'webhooks'}${cursor ? ' shown (more below)' : ''}, newest first.` : '';
    if (!webhooks.length) {
      mount(list, h('div', { class: 'card empty', id: 'no-webhooks' },
        h('p', {}, 'No webhooks yet. Create one above: the shop then POSTs the order events you chose to it, signed, and retries until it answers 2xx.')));
      return;
    }
    mount(list, h('div', { class: 'table-wrap card' }, h('table', { class: 'table webhooks-table' },
      h('caption', {}, 'Webhooks'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Endpoint'), h('th', { scope: 'col' }, 'Events'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, webhooks.map((w) => h('tr', { dataset: { webhookId: w.id, url: w.url }, class: w.id === highlight ? 'highlight' : null },
        h('th', { scope: 'row', class: 'webhook-endpoint' },
          h('code', { class: 'webhook-url' }, w.url),
          w.description ? h('span', { class: 'webhook-description' }, w.description) : null,
          h('span', { class: 'webhook-created-at' }, 'Created ', when(w.createdAt))),
        h('td', {}, h('ul', { class: 'event-list' }, (w.events || []).map((e) => h('li', {}, h('code', {}, e))))),
        actions(w)))))));
  }

  resetForm();
  await load();
  mount(panel, h('div', { class: 'admin-webhooks' },
    h('div', { class: 'webhook-side' }, created, form),
    h('div', {}, h('div', { class: 'toolbar' }, counts), list, h('p', {}, more))));
}

async function copySecret(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    toast('The secret is in the clipboard.', 'success');
  } catch {
    // No clipboard API here (or no permission): select it for Ctrl+C.
    input.focus();
    input.select();
    let copied = false;
    try { copied = document.execCommand('copy'); } catch { copied = false; }
    toast(copied ? 'The secret is in the clipboard.' : 'The secret is selected: copy it with Ctrl+C (⌘C).', copied ? 'success' : 'info');
  }
}

// MARK: one webhook's deliveries

const DELIVERY_LABELS = { pending: 'Pending', delivered: 'Delivered', dead: 'Dead' };
const deliveryLabel = (status) => DELIVERY_LABELS[status] || status;

const hasCode = (statusCode) => statusCode !== null && statusCode !== undefined;
/** An attempt's error beyond its status code (the service says `HTTP 500` for a 500: nothing more to say). */
const extraError = (statusCode, error) => (error && !(hasCode(statusCode) && error === `HTTP ${statusCode}`) ? error : null);

/** The last answer of an attempt: the receiver's HTTP status, or why there was none. */
function outcome(statusCode, error) {
  const extra = extraError(statusCode, error);
  if (hasCode(statusCode)) return [h('code', {}, `HTTP ${statusCode}`), extra ? ` · ${extra}` : ''];
  return extra || h('span', { class: 'muted' }, '—');
}

async function deliveriesView({ panel, signal }, id) {
  mount(panel, loading('Loading the deliveries…'));
  const back = h('p', {}, h('a', { class: 'btn btn-ghost btn-small', href: '#/admin/webhooks', id: 'all-webhooks' }, '← All webhooks'));
  let first;
  try {
    first = await api.webhookDeliveries(id);
  } catch (error) {
    if (error.status !== 404 && error.status !== 400) throw error;
    mount(panel, back, notice('warning', 'There is no such webhook: it may have been deleted.'));
    return;
  }
  const webhook = (await api.webhooks()).find((w) => String(w.id).toLowerCase() === id.toLowerCase());
  let deliveries = first.items || [];
  let cursor = first.nextCursor || undefined;
  let pages = 1;
  const open = new Set(); // deliveries whose history is unfolded: kept across live updates
  const list = h('div', { id: 'deliveries' });
  const counts = h('p', { class: 'muted', id: 'delivery-counts', role: 'status' });
  const more = h('button', {
    type: 'button', class: 'btn', onclick: () => busy(more, 'Loading…', async () => {
      const page = await api.webhookDeliveries(id, cursor);
      deliveries = deliveries.concat(page.items || []);
      cursor = page.nextCursor || undefined;
      pages += 1;
      render();
    }),
  }, 'Load more');
  /** The first page again; re-rendered only when something changed (a live update must not disturb the reader). */
  const reload = async () => {
    const page = await api.webhookDeliveries(id);
    const items = page.items || [];
    const next = page.nextCursor || undefined;
    if (pages === 1 && next === cursor && JSON.stringify(items) === JSON.stringify(deliveries)) return;
    deliveries = items;
    cursor = next;
    pages = 1;
    render();
  };
  const refresh = h('button', { type: 'button', class: 'btn btn-ghost', id: 'refresh-deliveries', onclick: () => busy(refresh, 'Refreshing…', reload) }, 'Refresh');
  const live = h('p', { class: 'live', hidden: true }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Updating live while deliveries are pending…');

  function deliveryCard(d) {
    const titleId = `delivery-${d.id}-title`;
    const dead = d.status === 'dead';
    const history = h('details', { class: 'delivery-history', open: open.has(d.id) || null },
      h('summary', {}, `Attempts (${(d.history || []).length}${d.attempts > (d.history || []).length ? ` latest of ${d.attempts}` : ''})`),
      (d.history || []).length
        ? h('div', { class: 'table-scroll' }, h('table', { class: 'table attempts-table' },
          h('caption', { class: 'visually-hidden' }, `Attempts of delivery ${d.id}, oldest first`),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col', class: 'num' }, '#'), h('th', { scope: 'col' }, 'At'), h('th', { scope: 'col' }, 'Answer'),
            h('th', { scope: 'col' }, 'Error'), h('th', { scope: 'col', class: 'num' }, 'Took'))),
          h('tbody', {}, d.history.map((a) => h('tr', { dataset: { attempt: a.attempt, statusCode: a.statusCode ?? '' }, class: a.statusCode >= 200 && a.statusCode < 300 ? 'attempt-ok' : 'attempt-failed' },
            h('td', { class: 'num' }, String(a.attempt)),
            h('td', { class: 'nowrap' }, h('time', { datetime: a.at }, preciseDateTime(a.at))),
            h('td', {}, hasCode(a.statusCode) ? h('code', {}, `HTTP ${a.statusCode}`) : h('span', { class: 'muted' }, 'no answer')),
            h('td', { class: 'attempt-error' }, extraError(a.statusCode, a.error) || h('span', { class: 'muted' }, '—')),
            h('td', { class: 'num nowrap' }, `${a.durationMs} ms`))))))
        : h('p', { class: 'muted' }, 'Not tried yet.'));
    history.addEventListener('toggle', () => { if (history.open) open.add(d.id); else open.delete(d.id); });
    return h('li', {}, h('article', {
      class: `card delivery delivery-${d.status}`, 'aria-labelledby': titleId, dataset: { deliveryId: d.id, status: d.status, event: d.event, orderId: d.orderId },
    },
    h('div', { class: 'delivery-head' },
      h('h3', { id: titleId }, h('code', {}, d.event), ' · order ', h('code', { title: d.orderId }, shortId(d.orderId))),
      statusPill(d.status, null, (s) => (s === 'pending' && d.attempts > 0 ? 'Retrying' : deliveryLabel(s)))),
    dead ? h('p', { class: 'notice notice-error delivery-dead-note' },
      h('strong', {}, 'Dead: '), `no 2xx answer within the retry window after ${d.attempts} ${d.attempts === 1 ? 'attempt' : 'attempts'}; the shop has given up on this delivery.`) : null,
    h('dl', { class: 'facts' },
      h('dt', {}, 'webhook-id'), h('dd', {}, h('code', {}, d.id)),
      h('dt', {}, 'Attempts'), h('dd', { class: 'delivery-attempts' }, String(d.attempts)),
      h('dt', {}, 'Last answer'), h('dd', { class: 'delivery-last' }, outcome(d.lastStatusCode, d.lastError)),
      h('dt', {}, 'Created'), h('dd', {}, when(d.createdAt)),
      d.deliveredAt ? [h('dt', {}, 'Delivered'), h('dd', {}, when(d.deliveredAt))] : null,
      d.status === 'pending' && d.nextAttemptAt ? [h('dt', {}, 'Next attempt'), h('dd', {}, when(d.nextAttemptAt))] : null),
    history));
  }

  function render() {
    const by = {};
    for (const d of deliveries) by[d.status] = (by[d.status] || 0) + 1;
    counts.textContent = deliveries.length
      ? `${deliveries.length} ${deliveries.length === 1 ? 'delivery' : 'deliveries'}${cursor ? ' shown (more below)' : ''}, newest first: `
        + ['delivered', 'pending', 'dead'].filter((s) => by[s]).map((s) => `${by[s]} ${deliveryLabel(s).toLowerCase()}`).join(', ')
      : '';
    more.hidden = !cursor;
    live.hidden = !deliveries.some((d) => d.status === 'pending');
    // A live update must not take the keyboard focus away: it goes back to the same delivery's control.
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const focusedId = focused?.closest('[data-delivery-id]')?.dataset.deliveryId;
    const focusedSummary = focused?.tagName === 'SUMMARY';
    mount(list, deliveries.length
      ? h('ul', { class: 'delivery-list' }, deliveries.map(deliveryCard))
      : h('div', { class: 'card empty', id: 'no-deliveries' },
        h('p', {}, 'No deliveries yet: one is made for each subscribed event that happens from now on (an order completed, shipped, …).')));
    if (focusedId) {
      const card = list.querySelector(`[data-delivery-id="${CSS.escape(focusedId)}"]`);
      (focusedSummary ? card?.querySelector('summary') : card)?.focus?.();
    }
  }

  render();
  mount(panel,
    back,
    h('section', { class: 'card webhook-summary', 'aria-labelledby': 'deliveries-title', dataset: { webhookId: id } },
      h('h2', { id: 'deliveries-title' }, 'Deliveries to ', h('code', { class: 'webhook-url' }, webhook?.url ?? id)),
      webhook ? h('p', { class: 'muted' }, 'Events: ', webhook.events.join(', '), webhook.description ? ` · ${webhook.description}` : '') : null,
      h('p', { class: 'hint' }, 'A delivery that gets no 2xx answer is tried again with growing pauses, then dead-lettered (Dead). Each carries one ',
        h('code', {}, 'webhook-id'), ' across its attempts, so the receiver can drop duplicates.')),
    h('div', { class: 'toolbar' }, counts, h('div', { class: 'actions' }, live, refresh)),
    list,
    h('p', {}, more));

  // Live: the first page again every 2 s while a delivery is pending, every 5 s otherwise, until the page is left.
  for (;;) {
    await sleep(deliveries.some((d) => d.status === 'pending') ? 2000 : 5000, signal);
    if (pages !== 1) continue; // the admin paged on: leave the list alone
    try {
      await reload();
    } catch (error) {
      if (error.status === 404) {
        mount(list, notice('warning', 'This webhook was deleted meanwhile.'));
        live.hidden = true;
        return;
      }
      // passing failures: try again at the next tick
    }
  }
}
