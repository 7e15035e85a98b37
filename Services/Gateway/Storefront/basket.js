// The basket (prices from the server, price-change notices) and the checkout form.
import * as api from './api.js';
import * as auth from './auth.js';
import { setBasket, navigate } from './state.js';
import { h, mount, money, field, select, showErrors, clearErrors, values, busy, toast, pageTitle, loading, notice, uuid, hidden } from './ui.js';

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
      h('h2', { class: 'line-name' }, item.productName),
      h('p', { class: 'line-meta' }, item.color ? `Color: ${item.color}` : 'No color chosen'),
      item.available === false ? h('p', { class: 'badge badge-error' }, 'No longer available') : null,
      item.previousPrice !== undefined && item.previousPrice !== null
        ? h('p', { class: 'price-change', role: 'note' },
          `Price changed: was ${money(item.previousPrice)}, now ${money(item.price)}.`) : null),
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

  mount(main,
    pageTitle('Your basket', h('a', { class: 'btn btn-ghost', href: '#/' }, 'Continue shopping')),
    changed.length ? notice('warning', h('strong', {}, 'Prices changed since you added these items: '),
      changed.map((i, n) => [n ? '; ' : '', `${i.productName} was ${money(i.previousPrice)}, now ${money(i.price)}`]), '. ',
      'Your basket shows the current prices. Changing the basket confirms them.') : null,
    unavailable.length ? notice('error', `${unavailable.map((i) => i.productName).join(', ')} left the catalog. Remove ${unavailable.length > 1 ? 'them' : 'it'} to check out.`) : null,
    status,
    h('div', { class: 'basket-layout' },
      h('section', { class: 'card basket-lines', 'aria-label': 'Items' }, rows),
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
  const basket = await api.basket();
  setBasket(basket);
  const items = basket.items || [];
  if (!items.length) {
    mount(main, pageTitle('Checkout'), h('div', { class: 'card empty' }, h('p', {}, 'Your basket is empty: there is nothing to check out.'),
      h('a', { class: 'btn btn-primary', href: '#/' }, 'Browse the catalog')));
    return;
  }
  const user = auth.user();
  // One key per filled-in form: a retried submission (a lost answer, a double click) returns the first checkout.
  let idempotencyKey = uuid();
  let lastBody = '';

  const form = h('form', {
    class: 'card form checkout-form', id: 'checkout-form', novalidate: true, 'aria-labelledby': 'checkout-details',
    onsubmit: async (event) => {
      event.preventDefault();
      clearErrors(form);
      const details = values(form);
      const missing = [];
      for (const [name, label] of [['firstName', 'first name'], ['lastName', 'last name'], ['email', 'email'], ['address', 'address'], ['cardInfo', 'card number']]) {
        if (!details[name]) missing.push({ field: name, detail: `Enter your ${label}.` });
      }
      if (details.email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(details.email)) missing.push({ field: 'email', detail: 'Enter an email address like ada@example.com.' });
      if (details.cardInfo && !/^[ -]*([0-9][ -]*){12,19}$/.test(details.cardInfo)) missing.push({ field: 'cardInfo', detail: 'A card number has 12 to 19 digits (spaces and dashes are fine).' });
      if (missing.length) {
        showErrors(form, { errors: missing });
        return;
      }
      const body = JSON.stringify(details);
      if (body !== lastBody) { // other details are another checkout: the same key with another body is refused
        if (lastBody) idempotencyKey = uuid();
        lastBody = body;
      }
      await busy(form.querySelector('button[type=submit]'), 'Placing your order…', async () => {
        try {
          const accepted = await api.checkout(details, idempotencyKey);
          setBasket({ items: [] });
          toast('Order placed — following it through the saga…', 'success');
          navigate(`#/track/${accepted.checkoutId}`, { replace: true });
        } catch (error) {
          showErrors(form, error);
        }
      });
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
  h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-large' }, `Place order · ${money(basket.totalPrice)}`));

  mount(main,
    pageTitle('Checkout', h('a', { class: 'btn btn-ghost', href: '#/basket' }, 'Back to basket')),
    h('div', { class: 'basket-layout' },
      form,
      h('aside', { class: 'card summary', 'aria-label': 'Order summary' },
        h('h2', {}, 'Order summary'),
        h('ul', { class: 'summary-lines' }, items.map((i) => h('li', {},
          h('span', {}, `${i.quantity} × ${i.productName}`, i.color ? h('span', { class: 'muted' }, ` · ${i.color}`) : null),
          h('span', { class: 'price' }, money(i.price * i.quantity))))),
        h('dl', {}, h('dt', { class: 'total' }, 'Total'), h('dd', { class: 'total' }, money(basket.totalPrice))))));
}
