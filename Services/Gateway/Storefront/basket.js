// The basket (prices from the server, price-change notices, the products' pictures) and the checkout form.
import * as api from './api.js';
import * as auth from './auth.js';
import { setBasket, navigate } from './state.js';
import { h, mount, money, field, select, showErrors, clearErrors, values, busy, toast, pageTitle, loading, notice, uuid, hidden } from './ui.js';
import { lineThumb, showPictures } from './pictures.js';

const lines = (basket) => (basket.items || []).map(({ productId, quantity, color }) => ({ productId, quantity, color }));

export async function basketPage(ctx) {
  const { main } = ctx;
  mount(main, pageTitle('Your basket'), loading('Loading your basket…'));
  render(ctx, await api.basket());
}

function render(ctx, basket) {
  const { main } = ctx;
  setBasket(basket);
  const items = basket.items || [];
  const changed = items.filter((i) => i.previousPrice !== undefined && i.previousPrice !== null && Number(i.previousPrice) !== Number(i.price));
  const unavailable = items.filter((i) => i.available === false);
  const status = h('div', { class: 'form-error', role: 'alert', tabindex: '-1' });

  /** Stores the basket with one line changed (quantity) or removed (null), showing errors on that line. */
  const save = async (index, quantity, row) => {
    const next = items.map((item, i) => ({ ...item, quantity: i === index ? quantity : item.quantity }))
      .filter((item) => item.quantity !== null && item.available !== false);
    try {
      const stored = await api.saveBasket(lines({ items: next }));
      render(ctx, stored);
      toast(quantity === null ? 'Removed from your basket.' : 'Basket updated.', 'success');
    } catch (error) {
      if (row) showErrors(row, error, (name) => (/^items\[\d+\]\.quantity$/.test(name || '') || name === 'totalPrice' ? 'quantity' : name));
      else { status.textContent = error.message; status.classList.add('visible'); }
    }
  };

  if (!items.length) {
    mount(main, pageTitle('Your basket'),
      h('div', { class: 'card empty' },
        h('p', {}, 'Your basket is empty.'),
        h('a', { class: 'btn btn-primary', href: '#/' }, 'Browse the catalog')));
    return;
  }

  const rows = items.map((item, index) => {
    const row = h('form', {
      class: 'basket-line', novalidate: true, dataset: { productId: item.productId, name: item.productName },
      onsubmit: (event) => {
        event.preventDefault();
        clearErrors(row);
        const quantity = Number(row.elements.quantity.value);
        if (!Number.isInteger(quantity) || quantity < 1 || quantity > 1000) {
          showErrors(row, { field: 'quantity', message: 'Enter a whole number from 1 to 1000.' });
          return;
        }
        busy(row.querySelector('.update'), 'Saving…', () => save(index, quantity, row));
      },
    },
    h('div', { class: 'line-main' },
      lineThumb(item.productId, item.productName),
      h('div', { class: 'line-text' },
        h('h2', { class: 'line-name' }, item.productName),
        h('p', { class: 'line-meta' }, item.color ? `Color: ${item.color}` : 'No color chosen'),
        item.available === false ? h('p', { class: 'badge badge-error' }, 'No longer available') : null,
        item.previousPrice !== undefined && item.previousPrice !== null
          ? h('p', { class: 'price-change', role: 'note' },
            `Price changed: was ${money(item.previousPrice)}, now ${money(item.price)}.`) : null)),
    h('div', { class: 'line-price' },
      h('span', { class: 'label' }, 'Unit price'),
      item.previousPrice !== undefined && item.previousPrice !== null ? h('s', { class: 'old-price', 'aria-label': `was ${money(item.previousPrice)}` }, money(item.previousPrice)) : null,
      h('span', { class: 'price unit-price', dataset: { price: item.price } }, money(item.price))),
    h('div', { class: 'line-qty' },
      field(['Quantity', hidden(` of ${item.productName}`)], 'quantity', { type: 'number', min: '1', max: '1000', value: String(item.quantity), inputmode: 'numeric', class: 'qty', disabled: item.available === false }),
      h('button', { type: 'submit', class: 'btn btn-small update', disabled: item.available === false }, 'Update', hidden(` ${item.productName}`))),
    h('div', { class: 'line-total' },
      h('span', { class: 'label' }, 'Line total'),
      h('span', { class: 'price' }, money(item.available === false ? 0 : item.price * item.quantity))),
    h('div', { class: 'line-remove' },
      h('button', {
        type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': `Remove ${item.productName}`,
        onclick: (event) => busy(event.currentTarget, 'Removing…', () => save(index, null, row)),
      }, 'Remove')));
    return row;
  });

  const lineList = h('section', { class: 'card basket-lines', 'aria-label': 'Items' }, rows);
  showPictures(lineList);
  mount(main,
    pageTitle('Your basket', h('a', { class: 'btn btn-ghost', href: '#/' }, 'Continue shopping')),
    changed.length ? notice('warning', h('strong', {}, 'Prices changed since you added these items: '),
      changed.map((i, n) => [n ? '; ' : '', `${i.productName} was ${money(i.previousPrice)}, now ${money(i.price)}`]), '. ',
      'Your basket shows the current prices. Changing the basket confirms them.') : null,
    unavailable.length ? notice('error', `${unavailable.map((i) => i.productName).join(', ')} left the catalog. Remove ${unavailable.length > 1 ? 'them' : 'it'} to check out.`) : null,
    status,
    h('div', { class: 'basket-layout' },
      lineList,
      h('aside', { class: 'card summary', 'aria-label': 'Summary' },
        h('h2', {}, 'Summary'),
        h('dl', {},
          h('dt', {}, 'Items'), h('dd', {}, String(items.reduce((n, i) => n + i.quantity, 0))),
          h('dt', { class: 'total' }, 'Total'), h('dd', { class: 'total', id: 'basket-total', dataset: { total: basket.totalPrice } }, money(basket.totalPrice))),
        h('p', { class: 'hint' }, 'Prices come from the catalog at the time you check out.'),
        unavailable.length
          ? h('button', { type: 'button', class: 'btn btn-primary btn-block', disabled: true }, 'Checkout')
          : h('a', { class: 'btn btn-primary btn-block', href: '#/checkout', id: 'to-checkout' }, 'Checkout'),
        h('button', {
          type: 'button', class: 'btn btn-ghost btn-block',
          onclick: async (event) => {
            await busy(event.currentTarget, 'Emptying…', async () => {
              try {
                await api.emptyBasket();
                render(ctx, { userName: auth.user()?.name, items: [], totalPrice: 0 });
                toast('Your basket is empty.', 'success');
              } catch (error) {
                status.textContent = error.message;
                status.classList.add('visible');
              }
            });
          },
        }, 'Empty basket'))));
}

export const TEST_CARDS = [
  ['4242 4242 4242 4242', 'approved'],
  ['4000 0000 0000 0002', 'declined (card_declined)'],
  ['4000 0000 0000 9995', 'declined (insufficient_funds)'],
  ['4000 0000 0000 0077', 'approved only after a long delay: the saga times out'],
];

export async function checkoutPage(ctx) {
  const { main } = ctx;
  mount(main, pageTitle('Checkout'), loading());
  const loaded = await api.basket();
  setBasket(loaded);
  if (!(loaded.items || []).length) {
    mount(main, pageTitle('Checkout'), h('div', { class: 'card empty' }, h('p', {}, 'Your basket is empty: there is nothing to check out.'),
      h('a', { class: 'btn btn-primary', href: '#/' }, 'Browse the catalog')));
    return;
  }
  const user = auth.user();
  // The basket as this page shows it: its total goes with the checkout as `expectedTotal`, so the order
  // is placed at the prices the customer saw (or the server answers 409 PriceChanged with the new ones).
  let shown = loaded;
  // One key per request body: a retried submission (a lost answer, a double click) returns the first
  // checkout; other details or another confirmed total are another checkout (the same key with another
  // body is refused).
  let idempotencyKey = uuid();
  let lastBody = '';
  let confirming = false; // the price-change confirmation is up: the customer answers it first

  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-large', id: 'place-order' });
  const summary = h('aside', { class: 'card summary', 'aria-label': 'Order summary' });
  const confirmation = h('div', { class: 'price-check' });
  let earlier = null; // the notice of price changes GET /basket reported when the page loaded

  /** The order button as the page stands: the total shown; disabled while a confirmation waits. */
  const settle = () => {
    submit.textContent = `Place order · ${money(shown.totalPrice)}`;
    submit.disabled = confirming;
  };

  /** Shows `basket` in the summary and on the button: the total the next checkout confirms. */
  const show = (basket) => {
    shown = basket;
    mount(summary, summaryContent(basket));
    settle();
  };

  const dismiss = () => {
    confirming = false;
    mount(confirmation);
    settle();
  };

  /** The details of the form, or null after showing what is missing. */
  const details = () => {
    clearErrors(form);
    const v = values(form);
    const missing = [];
    for (const [name, label] of [['firstName', 'first name'], ['lastName', 'last name'], ['email', 'email'], ['address', 'address'], ['cardInfo', 'card number']]) {
      if (!v[name]) missing.push({ field: name, detail: `Enter your ${label}.` });
    }
    if (v.email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.email)) missing.push({ field: 'email', detail: 'Enter an email address like ada@example.com.' });
    if (v.cardInfo && !/^[ -]*([0-9][ -]*){12,19}$/.test(v.cardInfo)) missing.push({ field: 'cardInfo', detail: 'A card number has 12 to 19 digits (spaces and dashes are fine).' });
    if (missing.length) {
      showErrors(form, { errors: missing });
      return null;
    }
    return v;
  };

  /** Checks out at the total shown; `button` shows the work. */
  const place = async (button) => {
    const input = details();
    if (!input) return; // shown next to the fields; a confirmation stays up until answered
    const expectedTotal = Number(shown.totalPrice);
    const body = JSON.stringify({ ...input, expectedTotal });
    if (body !== lastBody) {
      if (lastBody) idempotencyKey = uuid();
      lastBody = body;
    }
    await busy(button, 'Placing your order…', async () => {
      try {
        const accepted = await api.checkout(input, expectedTotal, idempotencyKey);
        setBasket({ items: [] });
        toast('Order placed — following it through the saga…', 'success');
        navigate(`#/track/${accepted.checkoutId}`, { replace: true });
      } catch (error) {
        if (error.status === 409 && error.code === 'PriceChanged' && error.body?.basket) {
          priceChanged(error.body.basket);
          return;
        }
        dismiss();
        showErrors(form, error);
      }
    });
    settle(); // `busy` put the button back as it found it: label and state follow the page again
  };

  /** The 409 PriceChanged: shows what changed against what this page showed, and asks to confirm the new total. */
  const priceChanged = (basket) => {
    const before = shown;
    setBasket(basket);
    if (!(basket.items || []).length) {
      toast('Your basket is empty now: there is nothing to check out.', 'info');
      navigate('#/basket', { replace: true });
      return;
    }
    confirming = true;
    earlier?.remove(); // the confirmation below tells the whole story now
    show(basket);
    mount(confirmation, priceChangedPanel(before, basket, {
      confirm: (event) => place(event.currentTarget),
      cancel: () => navigate('#/basket'),
    }));
    confirmation.scrollIntoView({ block: 'nearest' });
    confirmation.querySelector('h2')?.focus();
  };

  const form = h('form', {
    class: 'card form checkout-form', id: 'checkout-form', novalidate: true, 'aria-labelledby': 'checkout-details',
    onsubmit: (event) => {
      event.preventDefault();
      if (confirming) {
        confirmation.querySelector('h2')?.focus();
        return;
      }
      place(submit);
    },
  },
  h('h2', { id: 'checkout-details' }, 'Delivery and payment'),
  h('div', { class: 'grid-2' },
    field('First name', 'firstName', { autocomplete: 'given-name', required: true }),
    field('Last name', 'lastName', { autocomplete: 'family-name', required: true })),
  field('Email', 'email', { type: 'email', autocomplete: 'email', required: true, value: user?.email || '' }),
  field('Address', 'address', { autocomplete: 'street-address', required: true }, { hint: 'Street, city, postcode' }),
  h('div', { class: 'grid-2' },
    field('Payment method', 'paymentMethod', {}, { control: select('paymentMethod', [['Credit card', 'Credit card'], ['Debit card', 'Debit card']], 'Credit card') }),
    field('Card number', 'cardInfo', { autocomplete: 'cc-number', inputmode: 'numeric', required: true, placeholder: '4242 4242 4242 4242' })),
  h('div', { class: 'test-cards', role: 'group', 'aria-labelledby': 'test-cards-title' },
    h('p', { id: 'test-cards-title' }, h('strong', {}, 'Test cards'), ' — the payment service decides by the last four digits:'),
    h('ul', {}, TEST_CARDS.map(([card, outcome]) => h('li', {},
      h('button', {
        type: 'button', class: 'link-button', 'aria-label': `Use test card ${card} (${outcome})`,
        onclick: () => { form.elements.cardInfo.value = card; form.elements.cardInfo.focus(); },
      }, h('code', {}, card)), ` → ${outcome}`))),
    h('p', { class: 'hint' }, 'Any other number is approved. Only the last four digits are kept.')),
  submit);

  show(loaded);
  // GET /basket reports a price change once: this page may be where the customer first learns of it.
  const changed = (loaded.items || []).filter((i) => i.previousPrice !== undefined && i.previousPrice !== null && Number(i.previousPrice) !== Number(i.price));
  earlier = changed.length ? notice('warning', h('strong', {}, 'Prices changed since you added these items: '),
    changed.map((i, n) => [n ? '; ' : '', `${i.productName} was ${money(i.previousPrice)}, now ${money(i.price)}`]), '. ',
    'The order summary shows the current prices.') : null;
  mount(main,
    pageTitle('Checkout', h('a', { class: 'btn btn-ghost', href: '#/basket' }, 'Back to basket')),
    earlier,
    confirmation,
    h('div', { class: 'basket-layout' }, form, summary));
}

/** The order summary's content: the lines and the total. */
function summaryContent(basket) {
  return [
    h('h2', {}, 'Order summary'),
    h('ul', { class: 'summary-lines' }, (basket.items || []).map((i) => h('li', {},
      h('span', {}, `${i.quantity} × ${i.productName}`, i.color ? h('span', { class: 'muted' }, ` · ${i.color}`) : null),
      h('span', { class: 'price' }, money(i.price * i.quantity))))),
    h('dl', {}, h('dt', { class: 'total' }, 'Total'), h('dd', { class: 'total', id: 'checkout-total', dataset: { total: basket.totalPrice } }, money(basket.totalPrice)))];
}

const lineKey = (item) => `${String(item.productId).toLowerCase()}|${item.color || ''}`;

/**
 * The lines whose price differs from what the customer was shown: `[{item, was}]`. The page's own
 * basket tells the price the customer saw; `previousPrice` covers a line the page did not show.
 */
function priceChanges(before, after) {
  const seen = new Map((before?.items || []).map((i) => [lineKey(i), Number(i.price)]));
  return (after.items || []).filter((i) => i.available !== false).map((item) => {
    const previous = item.previousPrice !== undefined && item.previousPrice !== null ? Number(item.previousPrice) : null;
    return { item, was: seen.has(lineKey(item)) ? seen.get(lineKey(item)) : previous };
  }).filter(({ item, was }) => was !== null && was !== Number(item.price));
}

/** The confirmation after a 409 PriceChanged: old → new per changed line, the new total, confirm or go back. */
function priceChangedPanel(before, basket, { confirm, cancel }) {
  const changes = priceChanges(before, basket);
  const unavailable = (basket.items || []).filter((i) => i.available === false);
  const total = Number(basket.totalPrice);
  const wasTotal = Number(before.totalPrice);
  return h('section', { class: 'card price-changed', id: 'price-changed', 'aria-labelledby': 'price-changed-title' },
    h('h2', { id: 'price-changed-title', tabindex: '-1' }, 'Prices changed — please confirm'),
    // Our own words, not the problem's `detail` (written for API clients: "…checking out with expectedTotal").
    h('p', {}, 'Prices in your basket changed while you were checking out. Nothing has been ordered or charged yet.'),
    changes.length
      ? h('table', { class: 'table', id: 'price-changed-lines' },
        h('caption', { class: 'visually-hidden' }, 'Changed prices'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Item'), h('th', { scope: 'col', class: 'num' }, 'Was'), h('th', { scope: 'col', class: 'num' }, 'Now'))),
        h('tbody', {}, changes.map(({ item, was }) => h('tr', { dataset: { productId: item.productId, was, now: item.price } },
          h('th', { scope: 'row' }, `${item.quantity} × ${item.productName}`, item.color ? h('span', { class: 'muted' }, ` · ${item.color}`) : null),
          h('td', { class: 'num' }, h('s', { class: 'old-price' }, money(was))),
          h('td', { class: 'num' }, h('strong', { class: 'new-price' }, money(item.price)))))))
      : h('p', {}, 'Your basket changed since this page showed it.'),
    h('p', { class: 'price-changed-total' }, 'New total: ',
      h('strong', { id: 'price-changed-total', dataset: { total: basket.totalPrice } }, money(total)),
      wasTotal !== total ? h('span', { class: 'muted' }, ` (was ${money(wasTotal)})`) : null),
    unavailable.length
      ? notice('error', `${unavailable.map((i) => i.productName).join(', ')} left the catalog. Go back to the basket to remove ${unavailable.length > 1 ? 'them' : 'it'}.`)
      : null,
    h('div', { class: 'actions' },
      unavailable.length ? null
        : h('button', { type: 'button', class: 'btn btn-primary', id: 'confirm-new-prices', onclick: confirm }, `Confirm and place order · ${money(total)}`),
      h('button', { type: 'button', class: 'btn btn-ghost', id: 'cancel-new-prices', onclick: cancel }, 'Back to basket')));
}
